// TLS session ticket keys for a multi-process instance without tls.ticketKeyFile: made by the primary, given to
// every worker, so that a client resumes its session whichever worker it lands on. Node's server.setTicketKeys() holds exactly one 48-byte key set
// (16 bytes name, 16 HMAC, 16 AES) and OpenSSL's ticket callback in Node accepts only tickets under the current
// name: a rotation ends every outstanding ticket, and those clients make one full handshake. So keys rotate rarely
// (tls.ticketKeyRotation, 12 hours by default), which bounds how long a stolen key decrypts recorded sessions.
import { randomBytes } from 'node:crypto';
import { TICKET_KEY_BYTES } from '../tls/ticket-keys.js';

export function newTicketKeys(): Buffer {
  return randomBytes(TICKET_KEY_BYTES);
}
