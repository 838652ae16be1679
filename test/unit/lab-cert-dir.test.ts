// Where `casgate lab` keeps its certificates: certs/lab in a clone, the user's XDG state directory when installed.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, test } from 'vitest';
import { labCertDir } from '../../src/lab/lab.js';

const tmp = mkdtempSync(join(tmpdir(), 'casgate-labdir-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

test('a clone (a .git directory, or a worktree\'s .git file) keeps certs/lab beside package.json', () => {
  const clone = join(tmp, 'clone');
  mkdirSync(join(clone, '.git'), { recursive: true });
  expect(labCertDir({ XDG_STATE_HOME: '/var/state' }, clone)).toBe(join(clone, 'certs', 'lab'));
  const worktree = join(tmp, 'worktree');
  mkdirSync(worktree);
  writeFileSync(join(worktree, '.git'), 'gitdir: /elsewhere\n');
  expect(labCertDir({}, worktree)).toBe(join(worktree, 'certs', 'lab'));
});

test('an installed package uses $XDG_STATE_HOME/casgate/lab, else ~/.local/state/casgate/lab', () => {
  const installed = join(tmp, 'node_modules', 'casgate');
  mkdirSync(installed, { recursive: true });
  expect(labCertDir({ XDG_STATE_HOME: '/var/state' }, installed)).toBe('/var/state/casgate/lab');
  expect(labCertDir({}, installed)).toBe(join(homedir(), '.local', 'state', 'casgate', 'lab'));
  // The XDG spec: a relative path is invalid and ignored.
  expect(labCertDir({ XDG_STATE_HOME: 'state' }, installed)).toBe(join(homedir(), '.local', 'state', 'casgate', 'lab'));
});
