// TLS session ticket keys from a file (`tls.ticketKeyFile`), so that every casgate behind one address (an HA pair,
// later every worker of one instance) can decrypt the others' tickets: a client that fails over resumes its session
// instead of a full handshake. Node wants 48 bytes (16 name, 16 HMAC, 16 AES); they protect TLS 1.2 tickets and TLS
// 1.3 resumption alike. Read once at provision time (start, check, reload), never per connection.
import { CertificateError } from './certificate.js';
import { readCertificateFile } from './read-file.js';

export const TICKET_KEY_BYTES = 48;

/**
 * The file holds the key as written by `openssl rand 48 > ticket.key` (48 raw bytes), or as text: 96 hex digits
 * (`openssl rand -hex 48`) or base64 of 48 bytes (`openssl rand -base64 48`), surrounding whitespace ignored.
 */
export function parseTicketKey(file: string, data: Buffer): Buffer {
  if (data.length === TICKET_KEY_BYTES) return Buffer.from(data);
  const text = data.toString('latin1').trim();
  if (/^[0-9a-fA-F]{96}$/.test(text)) return Buffer.from(text, 'hex');
  // 64 hex digits are also 64 base64 characters: read as base64 they would make 48 bytes out of what is almost
  // certainly `openssl rand -hex 32`, 32 bytes. (Random base64 is all hex digits once in 10^29.)
  if (/^[0-9a-fA-F]{64}$/.test(text)) {
    throw new CertificateError(file, 'a TLS ticket key file holds 48 random bytes; this one holds 64 hex digits, 32 bytes (openssl rand -hex 32?); make one with: openssl rand 48 > ticket.key');
  }
  if (/^[A-Za-z0-9+/]{64}$/.test(text)) return Buffer.from(text, 'base64');
  throw new CertificateError(
    file,
    `a TLS ticket key file holds 48 random bytes (raw, 96 hex digits or 64 base64 characters), found ${data.length} bytes ` +
      'that are none of these; make one with: openssl rand 48 > ticket.key',
  );
}

export function loadTicketKey(file: string): Buffer {
  return parseTicketKey(file, readCertificateFile(file));
}
