// Reads a certificate or key file, turning the usual file-system failures into one-line CertificateErrors.
import { readFileSync } from 'node:fs';
import { CertificateError } from './certificate.js';

export function readCertificateFile(file: string): Buffer {
  try {
    return readFileSync(file);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const problem =
      code === 'ENOENT' ? 'file not found'
      : code === 'EACCES' ? 'permission denied (casgate cannot read this file)'
      : code === 'EISDIR' ? 'is a directory, not a certificate file'
      : `cannot read the file (${(err as Error).message})`;
    throw new CertificateError(file, problem, { cause: err });
  }
}
