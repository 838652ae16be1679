// Writes a PFX the way Export-PfxCertificate / Export-ExchangeCertificate did on Windows Server 2016 and earlier:
// key bag encrypted with pbeWithSHAAnd3-KeyTripleDES-CBC, certificate bag with pbeWithSHAAnd40BitRC2-CBC,
// HMAC-SHA1 integrity, 2048 iterations. The lab uses it so that its PFX goes through the same legacy path as a real
// Exchange export (Node alone refuses it), instead of a file that only proves the easy case works.
//
// forge.pkcs12.toPkcs12Asn1 can encrypt the key with 3DES but always leaves the certificate bag unencrypted, so the
// structure is built here from forge's ASN.1, RC2 and PKCS#12 key-derivation pieces (RFC 7292, appendices B and C).
import { createPrivateKey, randomBytes, X509Certificate } from 'node:crypto';
import forge from 'node-forge';

const { asn1 } = forge;
type Asn1 = forge.asn1.Asn1;

const ITERATIONS = 2048;
const OID = {
  data: '1.2.840.113549.1.7.1',
  encryptedData: '1.2.840.113549.1.7.6',
  certBag: '1.2.840.113549.1.12.10.1.3',
  x509Certificate: '1.2.840.113549.1.9.22.1',
  pbeWithSHAAnd40BitRC2CBC: '1.2.840.113549.1.12.1.6',
  friendlyName: '1.2.840.113549.1.9.20',
  localKeyId: '1.2.840.113549.1.9.21',
  sha1: '1.3.14.3.2.26',
} as const;

export interface PfxContents {
  /** Private key in any PEM form Node reads; it is stored as PKCS#8, so RSA and EC both work. */
  keyPem: string;
  /** The leaf first, then its chain. */
  certPems: string[];
  password: string;
  /** Shown by Windows' certificate import wizard and MMC. */
  friendlyName?: string;
}

export function exportLegacyPfx({ keyPem, certPems, password, friendlyName }: PfxContents): Buffer {
  const [leafPem] = certPems;
  if (!leafPem) throw new Error('exportLegacyPfx needs at least the leaf certificate');
  // localKeyId ties the key to its certificate; Windows uses the SHA-1 thumbprint, and so do we.
  const localKeyId = Buffer.from(new X509Certificate(leafPem).fingerprint.replaceAll(':', ''), 'hex').toString('binary');
  const leafAttributes = bagAttributes(localKeyId, friendlyName);

  const certBags = certPems.map((pem, index) => certBag(pem, index === 0 ? leafAttributes : []));
  const certSafe = encryptedContentInfo(sequence(certBags), password);

  const pkcs8 = createPrivateKey(keyPem).export({ type: 'pkcs8', format: 'der' });
  const privateKeyInfo = asn1.fromDer(pkcs8.toString('binary'));
  const shrouded = forge.pki.encryptPrivateKeyInfo(privateKeyInfo, password, { algorithm: '3des', count: ITERATIONS });
  const keyBag = sequence([
    oid(forge.pki.oids.pkcs8ShroudedKeyBag!),
    explicit(0, [shrouded]),
    set(leafAttributes),
  ]);
  const keySafe = dataContentInfo(sequence([keyBag]));

  const authenticatedSafe = asn1.toDer(sequence([certSafe, keySafe])).getBytes();
  const pfx = sequence([
    integer(3),
    dataContentInfo(authenticatedSafe),
    macData(authenticatedSafe, password),
  ]);
  return Buffer.from(asn1.toDer(pfx).getBytes(), 'binary');
}

function certBag(pem: string, attributes: Asn1[]): Asn1 {
  const der = new X509Certificate(pem).raw.toString('binary');
  const value = sequence([oid(OID.x509Certificate), explicit(0, [octetString(der)])]);
  // bagAttributes is OPTIONAL; chain certificates carry none, and an empty SET would be odd DER.
  const items = [oid(OID.certBag), explicit(0, [value])];
  return sequence(attributes.length > 0 ? [...items, set(attributes)] : items);
}

function bagAttributes(localKeyId: string, friendlyName: string | undefined): Asn1[] {
  const attributes = [sequence([oid(OID.localKeyId), set([octetString(localKeyId)])])];
  if (friendlyName !== undefined) {
    // forge encodes a BMPSTRING's JS string as UTF-16BE itself.
    const bmp = asn1.create(asn1.Class.UNIVERSAL, asn1.Type.BMPSTRING, false, friendlyName);
    attributes.push(sequence([oid(OID.friendlyName), set([bmp])]));
  }
  return attributes;
}

/** EncryptedData with pbeWithSHAAnd40BitRC2-CBC: key and IV come from the PKCS#12 KDF with IDs 1 and 2. */
function encryptedContentInfo(safeContents: Asn1, password: string): Asn1 {
  const salt = randomBytes(8).toString('binary');
  const saltBuffer = () => forge.util.createBuffer(salt);
  const key = forge.pkcs12.generateKey(password, saltBuffer(), 1, ITERATIONS, 5);
  const iv = forge.pkcs12.generateKey(password, saltBuffer(), 2, ITERATIONS, 8);
  const cipher = forge.rc2.createEncryptionCipher(key, 40);
  cipher.start(iv);
  cipher.update(asn1.toDer(safeContents));
  cipher.finish();
  const algorithm = sequence([
    oid(OID.pbeWithSHAAnd40BitRC2CBC),
    sequence([octetString(salt), integer(ITERATIONS)]),
  ]);
  const encryptedContent = asn1.create(asn1.Class.CONTEXT_SPECIFIC, 0, false, cipher.output.getBytes());
  const encryptedData = sequence([integer(0), sequence([oid(OID.data), algorithm, encryptedContent])]);
  return sequence([oid(OID.encryptedData), explicit(0, [encryptedData])]);
}

function dataContentInfo(content: Asn1 | string): Asn1 {
  const bytes = typeof content === 'string' ? content : asn1.toDer(content).getBytes();
  return sequence([oid(OID.data), explicit(0, [octetString(bytes)])]);
}

/** HMAC-SHA1 over the AuthenticatedSafe with a key from the PKCS#12 KDF, ID 3. */
function macData(authenticatedSafe: string, password: string): Asn1 {
  const salt = randomBytes(8).toString('binary');
  const key = forge.pkcs12.generateKey(password, forge.util.createBuffer(salt), 3, ITERATIONS, 20);
  const hmac = forge.hmac.create();
  hmac.start('sha1', key);
  hmac.update(authenticatedSafe);
  const digestInfo = sequence([
    sequence([oid(OID.sha1), asn1.create(asn1.Class.UNIVERSAL, asn1.Type.NULL, false, '')]),
    octetString(hmac.digest().getBytes()),
  ]);
  return sequence([digestInfo, octetString(salt), integer(ITERATIONS)]);
}

const sequence = (items: Asn1[]) => asn1.create(asn1.Class.UNIVERSAL, asn1.Type.SEQUENCE, true, items);
const set = (items: Asn1[]) => asn1.create(asn1.Class.UNIVERSAL, asn1.Type.SET, true, items);
const explicit = (tag: number, items: Asn1[]) => asn1.create(asn1.Class.CONTEXT_SPECIFIC, tag, true, items);
const oid = (dotted: string) => asn1.create(asn1.Class.UNIVERSAL, asn1.Type.OID, false, asn1.oidToDer(dotted).getBytes());
const octetString = (bytes: string) => asn1.create(asn1.Class.UNIVERSAL, asn1.Type.OCTETSTRING, false, bytes);
const integer = (value: number) =>
  asn1.create(asn1.Class.UNIVERSAL, asn1.Type.INTEGER, false, asn1.integerToDer(value).getBytes());
