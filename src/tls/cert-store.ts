// The front end's server certificates: one tls.SecureContext per certificate, built once at start-up (building one
// parses the key and chain, far too slow for every handshake), and chosen per connection by SNI.
import { constants } from 'node:crypto';
import tls from 'node:tls';
import type { LoadedCertificate } from './certificate.js';
import { selectCertificate } from './hostname-match.js';

/**
 * TLS 1.2 suites: forward secrecy (ECDHE) with AEAD ciphers only. No CBC (Lucky13 and friends), no RSA key exchange
 * (no forward secrecy), no DHE (slow, and weak parameters in the wild). Every Outlook, EAS device and browser that can
 * talk TLS 1.2 to Exchange offers at least one of these. TLS 1.3 suites are all AEAD; they are listed so that setting
 * `ciphers` does not depend on how Node treats a list without them.
 *
 * Order (the server's, honorCipherOrder): AES-128-GCM first, as Mozilla's intermediate profile lists it. Same policy
 * as AES-256 first, a little cheaper per byte: `openssl speed -evp` on this machine's CPU (AES-NI, VAES), 16 KB
 * records: AES-128-GCM 4.38 GB/s, AES-256-GCM 4.08 GB/s; encryption is about a tenth of a proxy's CPU on large
 * downloads (perf, bench/RESULTS.md), so the gain is about 1 %: measurable in openssl, not above the benchmarks' noise.
 */
export const SERVER_CIPHERS = [
  'TLS_AES_128_GCM_SHA256',
  'TLS_AES_256_GCM_SHA384',
  'TLS_CHACHA20_POLY1305_SHA256',
  'ECDHE-ECDSA-AES128-GCM-SHA256',
  'ECDHE-RSA-AES128-GCM-SHA256',
  'ECDHE-ECDSA-AES256-GCM-SHA384',
  'ECDHE-RSA-AES256-GCM-SHA384',
  'ECDHE-ECDSA-CHACHA20-POLY1305',
  'ECDHE-RSA-CHACHA20-POLY1305',
].join(':');

/**
 * Protocol settings shared by the default context and every SNI context. When SNICallback switches a connection to
 * another context, OpenSSL takes only some settings from it (certificate and key for sure; which others has varied
 * between versions), so every context gets the same settings and the question never matters.
 */
const PROTOCOL_OPTIONS = {
  minVersion: 'TLSv1.2',
  ciphers: SERVER_CIPHERS,
  honorCipherOrder: true,
  // Client-initiated TLS 1.2 renegotiation costs the server a handshake per request the client chooses to make
  // (a DoS lever testssl.sh flags); no Exchange client needs it, so OpenSSL refuses it outright.
  secureOptions: constants.SSL_OP_NO_RENEGOTIATION,
  // OpenSSL resumes a session only in the session-ID context it was made in. Node's default is a hash of the
  // process's command line, which differs between two nodes of an HA pair (another config path, another node binary)
  // and between a primary-less process and a worker: a ticket made with the shared tls.ticketKeyFile key would be
  // decrypted and then refused, a full handshake. Every casgate front end is one context; the ticket key decides.
  sessionIdContext: 'casgate-front-end',
} as const satisfies tls.SecureContextOptions;

export class CertStore {
  readonly certificates: readonly LoadedCertificate[];
  private readonly contexts: Map<LoadedCertificate, tls.SecureContext>;

  /** `certificates[0]` is the default, presented to clients that send no SNI or a name no certificate covers. */
  constructor(certificates: readonly LoadedCertificate[]) {
    if (certificates.length === 0) throw new Error('CertStore needs at least one certificate');
    this.certificates = certificates;
    this.contexts = new Map(certificates.map((cert) => [cert, tls.createSecureContext(contextOptions(cert))]));
  }

  get defaultCertificate(): LoadedCertificate {
    // The constructor guarantees one certificate.
    return this.certificates[0]!;
  }

  /** The certificate for a requested name: an exact name beats a wildcard, which beats the default. */
  certificateFor(servername?: string): LoadedCertificate {
    return (servername && selectCertificate(this.certificates, servername)) || this.defaultCertificate;
  }

  contextFor(servername?: string): tls.SecureContext {
    return this.contexts.get(this.certificateFor(servername))!;
  }

  /** For tls.createServer's SNICallback. A name nobody covers still gets the default: better a name-mismatch warning
   *  in the client than a handshake failure it cannot explain. */
  readonly sniCallback = (servername: string, callback: (err: Error | null, context?: tls.SecureContext) => void): void => {
    callback(null, this.contextFor(servername));
  };

  serverOptions(): tls.TlsOptions {
    return {
      ...contextOptions(this.defaultCertificate),
      // HTTP/2 cannot carry NTLM or Negotiate: they authenticate the connection, and h2 multiplexes requests from one
      // client over it; IIS itself falls back to HTTP/1.1 for them. Offer only http/1.1.
      ALPNProtocols: ['http/1.1'],
      SNICallback: this.sniCallback,
    };
  }
}

function contextOptions(cert: LoadedCertificate): tls.SecureContextOptions {
  return {
    ...PROTOCOL_OPTIONS,
    // The leaf followed by its chain, so clients that lack the intermediate CA can still build the path.
    cert: [cert.certPem, ...cert.chainPem].join('\n'),
    key: cert.keyPem,
  };
}
