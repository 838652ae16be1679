// Names the encryption a PFX uses, read from the OIDs in its ASN.1, so `casgate cert inspect` can tell the admin
// why Node alone would refuse the file (RC2-40 and RC4 live in OpenSSL 3's legacy provider, which Node does not load).
// Nothing here decrypts: the algorithm identifiers sit outside the encrypted parts.
//
// PFX            ::= SEQUENCE { version, authSafe ContentInfo, macData MacData OPTIONAL }
// ContentInfo    ::= SEQUENCE { contentType OID, content [0] EXPLICIT ... }   data: OCTET STRING; encryptedData: EncryptedData
// AuthenticatedSafe ::= SEQUENCE OF ContentInfo     (one for the certificates, usually encrypted; one for the key)
// EncryptedData  ::= SEQUENCE { version, SEQUENCE { contentType, AlgorithmIdentifier, [0] encryptedContent } }
// SafeBag        ::= SEQUENCE { bagId OID, bagValue [0] EXPLICIT ..., attributes SET OPTIONAL }
//                    a pkcs8ShroudedKeyBag's value is EncryptedPrivateKeyInfo ::= SEQUENCE { AlgorithmIdentifier, OCTET STRING }
import forge from 'node-forge';

type Asn1 = forge.asn1.Asn1;

const OID = {
  data: '1.2.840.113549.1.7.1',
  encryptedData: '1.2.840.113549.1.7.6',
  shroudedKeyBag: '1.2.840.113549.1.12.10.1.2',
  pbes2: '1.2.840.113549.1.5.13',
} as const;

const pkcs12PbeNames: Record<string, string> = {
  '1.2.840.113549.1.12.1.1': 'pbeWithSHAAnd128BitRC4',
  '1.2.840.113549.1.12.1.2': 'pbeWithSHAAnd40BitRC4',
  '1.2.840.113549.1.12.1.3': 'pbeWithSHAAnd3-KeyTripleDES-CBC',
  '1.2.840.113549.1.12.1.4': 'pbeWithSHAAnd2-KeyTripleDES-CBC',
  '1.2.840.113549.1.12.1.5': 'pbeWithSHAAnd128BitRC2-CBC',
  '1.2.840.113549.1.12.1.6': 'pbeWithSHAAnd40BitRC2-CBC',
};

const cipherNames: Record<string, string> = {
  '2.16.840.1.101.3.4.1.2': 'AES-128-CBC',
  '2.16.840.1.101.3.4.1.22': 'AES-192-CBC',
  '2.16.840.1.101.3.4.1.42': 'AES-256-CBC',
  '1.2.840.113549.3.7': 'DES-EDE3-CBC',
  '1.3.14.3.2.7': 'DES-CBC',
};

const prfNames: Record<string, string> = {
  '1.2.840.113549.2.7': 'HMAC-SHA1',
  '1.2.840.113549.2.8': 'HMAC-SHA224',
  '1.2.840.113549.2.9': 'HMAC-SHA256',
  '1.2.840.113549.2.10': 'HMAC-SHA384',
  '1.2.840.113549.2.11': 'HMAC-SHA512',
};

const digestNames: Record<string, string> = {
  '1.3.14.3.2.26': 'SHA1',
  '2.16.840.1.101.3.4.2.1': 'SHA256',
  '2.16.840.1.101.3.4.2.2': 'SHA384',
  '2.16.840.1.101.3.4.2.3': 'SHA512',
  '1.2.840.113549.2.5': 'MD5',
};

/** Algorithms OpenSSL 3 keeps in its legacy provider; a PFX using one of them is refused by tls.createSecureContext. */
export const LEGACY_PFX_ALGORITHM = /RC2|RC4|\bDES-CBC/;

/**
 * "pbeWithSHAAnd3-KeyTripleDES-CBC (key), pbeWithSHAAnd40BitRC2-CBC (certificates), MAC HMAC-SHA1" or
 * "AES-256-CBC with PBKDF2-HMAC-SHA256 (key, certificates), MAC HMAC-SHA256". Returns undefined if the structure
 * is not what PKCS#12 describes; the loader reports unreadable files, this only describes readable ones.
 */
export function describePfxEncryption(der: Buffer): string | undefined {
  try {
    const pfx = forge.asn1.fromDer(forge.util.createBuffer(der.toString('binary')), false);
    const authSafe = child(pfx, 1);
    if (oidOf(child(authSafe, 0)) !== OID.data) return undefined; // public-key integrity mode: not made by Windows
    const safes = parse(octets(child(child(authSafe, 1), 0)));
    const byAlgorithm = new Map<string, Set<string>>();
    const note = (algorithm: string, what: string) => {
      const set = byAlgorithm.get(algorithm) ?? new Set<string>();
      set.add(what);
      byAlgorithm.set(algorithm, set);
    };
    for (const contentInfo of children(safes)) {
      const type = oidOf(child(contentInfo, 0));
      if (type === OID.encryptedData) {
        const encryptedContentInfo = child(child(child(contentInfo, 1), 0), 1);
        note(algorithmName(child(encryptedContentInfo, 1)), 'certificates');
      } else if (type === OID.data) {
        const bags = parse(octets(child(child(contentInfo, 1), 0)));
        for (const bag of children(bags)) {
          if (oidOf(child(bag, 0)) === OID.shroudedKeyBag) {
            note(algorithmName(child(child(child(bag, 1), 0), 0)), 'key');
          } else {
            note('unencrypted', 'certificates');
          }
        }
      }
    }
    // Key first: it is what the password mostly protects, and the order then reads the same for every file.
    const parts = [...byAlgorithm]
      .map(([algorithm, what]) => ({ algorithm, what: [...what].sort(byKeyFirst) }))
      .sort((a, b) => byKeyFirst(a.what[0] ?? '', b.what[0] ?? ''))
      .map(({ algorithm, what }) => `${algorithm} (${what.join(', ')})`);
    const mac = macName(pfx);
    if (mac) parts.push(`MAC ${mac}`);
    return parts.join(', ');
  } catch {
    return undefined;
  }
}

function algorithmName(algorithmIdentifier: Asn1): string {
  const oid = oidOf(child(algorithmIdentifier, 0));
  if (oid !== OID.pbes2) return pkcs12PbeNames[oid] ?? oid;
  // PBES2-params ::= SEQUENCE { keyDerivationFunc {PBKDF2, PBKDF2-params}, encryptionScheme {cipher OID, iv} }
  const params = child(algorithmIdentifier, 1);
  const kdfParams = child(child(params, 0), 1);
  const cipher = oidOf(child(child(params, 1), 0));
  // PBKDF2-params ::= SEQUENCE { salt, iterationCount, keyLength OPTIONAL, prf DEFAULT hmacWithSHA1 }
  const prfIdentifier = children(kdfParams).find((node) => node.type === forge.asn1.Type.SEQUENCE);
  const prf = prfIdentifier ? oidOf(child(prfIdentifier, 0)) : '1.2.840.113549.2.7';
  return `${cipherNames[cipher] ?? cipher} with PBKDF2-${prfNames[prf] ?? prf}`;
}

function macName(pfx: Asn1): string | undefined {
  const macData = children(pfx)[2];
  if (!macData) return undefined;
  // MacData ::= SEQUENCE { mac DigestInfo ::= SEQUENCE { AlgorithmIdentifier, digest }, macSalt, iterations }
  const digest = oidOf(child(child(child(macData, 0), 0), 0));
  return `HMAC-${digestNames[digest] ?? digest}`;
}

function byKeyFirst(a: string, b: string): number {
  return a === 'key' ? -1 : b === 'key' ? 1 : a.localeCompare(b);
}

function children(node: Asn1): Asn1[] {
  if (!Array.isArray(node.value)) throw new Error('expected a constructed ASN.1 value');
  return node.value;
}

function child(node: Asn1, index: number): Asn1 {
  const found = children(node)[index];
  if (!found) throw new Error(`missing ASN.1 element ${index}`);
  return found;
}

function oidOf(node: Asn1): string {
  if (node.type !== forge.asn1.Type.OID || typeof node.value !== 'string') throw new Error('expected an OID');
  return forge.asn1.derToOid(node.value);
}

/** BER lets an OCTET STRING arrive in constructed chunks (Windows exports do this); join them. */
function octets(node: Asn1): string {
  return typeof node.value === 'string' ? node.value : children(node).map(octets).join('');
}

function parse(bytes: string): Asn1 {
  return forge.asn1.fromDer(bytes, false);
}
