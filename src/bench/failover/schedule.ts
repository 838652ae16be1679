// When things happen in a failover run. The default: one event per phase, so that each outage and each recovery has a
// phase to settle before the next: kill -9 cas1 / restart it, maintenance on cas2 / off, drain cas3 / enable, then a
// last phase to watch the recovered servers take traffic. A schedule file (YAML or JSON) replaces it:
//
//   duration: 70s            # total run, from the start of the load
//   events:
//     - { at: 8s,  action: kill,            server: cas1 }
//     - { at: 16s, action: restart,         server: cas1 }
//     - { at: 24s, action: maintenance-on,  server: cas2 }
import { readFile } from 'node:fs/promises';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { parseDuration } from '../../config/duration.js';
import type { EventAction, FailoverEvent } from './timeline.js';

export const ACTIONS = ['kill', 'restart', 'maintenance-on', 'maintenance-off', 'drain', 'enable'] as const satisfies readonly EventAction[];

export interface Schedule {
  /** Total run time in ms from the start of the load. */
  durationMs: number;
  events: FailoverEvent[];
}

/** Default schedule for `servers` CAS named cas1..casN: six events `phaseMs` apart, after one phase of steady load. */
export function defaultSchedule(servers: number, phaseMs: number): Schedule {
  const name = (i: number) => `cas${Math.min(i, servers)}`;
  const steps: Array<[EventAction, string]> = [
    ['kill', name(1)],
    ['restart', name(1)],
    ['maintenance-on', name(2)],
    ['maintenance-off', name(2)],
    ['drain', name(3)],
    ['enable', name(3)],
  ];
  return { durationMs: phaseMs * (steps.length + 1), events: steps.map(([action, server], i) => ({ at: phaseMs * (i + 1), action, server })) };
}

const durationText = z.union([z.number().nonnegative(), z.string()]).transform((v, ctx) => {
  const ms = typeof v === 'number' ? v * 1000 : parseDuration(v);
  if (ms === undefined) {
    ctx.addIssue({ code: 'custom', message: `expected a duration like 8s or 500ms, got ${JSON.stringify(v)}` });
    return z.NEVER;
  }
  return ms;
});

const ScheduleSchema = z.object({
  /** Total run time (default: 8 s after the last event). */
  duration: durationText.optional(),
  events: z
    .array(z.object({ at: durationText, action: z.enum(ACTIONS), server: z.string().min(1, 'expected a server name: cas1, or one of the remote casgate') }))
    .min(1),
});

/**
 * Checks a schedule against the servers there are: names exist, events fall inside the run, a restart follows a kill.
 * `servers`: the lab's count (cas1..casN) or the remote casgate's server names (empty: not known, not checked);
 * `actions`: what the target can do (against a remote casgate, only drain and enable).
 */
export function validateSchedule(s: Schedule, servers: number | readonly string[], actions: readonly EventAction[] = ACTIONS): void {
  const names = typeof servers === 'number' ? Array.from({ length: servers }, (_, i) => `cas${i + 1}`) : servers;
  const known = typeof servers === 'number' ? `cas1..cas${servers}` : names.join(', ');
  const killed = new Set<string>();
  for (const [i, e] of [...s.events].sort((a, b) => a.at - b.at).entries()) {
    const where = `events[${i}]`;
    if (!actions.includes(e.action)) {
      throw new Error(`${where}.action: ${e.action} needs the built-in lab (it acts on mock CAS processes); against --url only ${actions.join(' and ')}`);
    }
    if (names.length > 0 && !names.includes(e.server)) throw new Error(`${where}.server: ${e.server} is not one of ${known}`);
    if (e.at >= s.durationMs) throw new Error(`${where}.at: ${e.at} ms is not before the end of the run (${s.durationMs} ms)`);
    if (e.action === 'kill') {
      if (killed.has(e.server)) throw new Error(`${where}: ${e.server} is already killed`);
      killed.add(e.server);
    } else if (e.action === 'restart') {
      if (!killed.delete(e.server)) throw new Error(`${where}: restart of ${e.server}, which was not killed`);
    } else if (killed.has(e.server)) throw new Error(`${where}: ${e.action} on ${e.server} while it is killed`);
  }
}

export function parseSchedule(raw: unknown, source: string): Schedule {
  const parsed = ScheduleSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new Error(`${source}: ${issue?.path.join('.') || '(root)'}: ${issue?.message ?? 'invalid'}`);
  }
  const events = parsed.data.events.map((e) => ({ at: e.at, action: e.action, server: e.server })).sort((a, b) => a.at - b.at);
  const last = events[events.length - 1]!.at;
  return { durationMs: parsed.data.duration ?? last + 8000, events };
}

export async function loadScheduleFile(file: string): Promise<Schedule> {
  const text = await readFile(file, 'utf8');
  return parseSchedule(file.endsWith('.json') ? JSON.parse(text) : parseYaml(text), file);
}
