// A worker of a multi-process instance: carries client traffic only. Everything it serves with comes from the
// primary over IPC (config, certificates, ticket keys, every backend's state); it probes nothing, decides no
// backend's health and has no admin listener. It reports failed attempts to the primary, whose outlier detector
// gives one verdict for the instance, and answers the primary's queries for counts and metrics.
import { Gateway } from '../gateway.js';
import { assemble } from '../runtime/provision.js';
import { createLogger, type Logger } from '../logging/logger.js';
import type { AuthProtection } from '../proxy/auth-protection/protection.js';
import type { Backend } from '../upstream/backend.js';
import type { UpstreamPool } from '../upstream/pool.js';
import type { BackendState, FromWorker, RuntimeTransfer, ToWorker } from './messages.js';

function assembled(t: RuntimeTransfer) {
  return assemble(t.file, t.config, t.certificates, t.caFiles);
}

function send(message: FromWorker, then?: () => void): void {
  if (process.connected) process.send!(message, undefined, undefined, then);
  else then?.();
}

function applyStates(pools: ReadonlyMap<string, UpstreamPool>, states: readonly BackendState[]): void {
  for (const s of states) pools.get(s.pool)?.find(s.backend)?.restore(s.state);
}

/** Process metrics are labelled by worker; 'sum' over distinct labels keeps each worker's own series. */
function perProcess(metrics: unknown[]): unknown[] {
  return metrics.map((m) => ({ ...(m as object), aggregator: 'sum' }));
}

export function runWorker(): void {
  let gateway: Gateway | undefined;
  let logger: Logger = createLogger('info');
  // Backends that failed since their last reported success: a success is sent only after a failure, so that a
  // busy worker does not send one message per request.
  const failing = new WeakSet<Backend>();
  let retiring = false;
  // Set while `init` builds the gateway (before it listens), so that a lock sent meanwhile is not lost.
  let shield: AuthProtection | undefined;

  // Without its primary a worker has no control plane: it stops (the service manager restarts the instance).
  process.on('disconnect', () => process.exit(1));

  process.on('message', (message: ToWorker) => {
    void handle(message).catch((err: unknown) => {
      logger.error('worker: control message failed', { message: message.t, error: (err as Error).stack ?? String(err) });
      if (message.t === 'init') {
        const code = (err as NodeJS.ErrnoException).code;
        send({ t: 'failed', error: (err as Error).message, ...(code ? { code } : {}) }, () => process.exit(1));
      }
    });
  });

  send({ t: 'ready' });

  async function handle(message: ToWorker): Promise<void> {
    switch (message.t) {
      case 'init': {
        const id = message.worker;
        logger = createLogger(message.runtime.config.logging.level, (line) => process.stderr.write(`${line.trimEnd()} worker=${id}\n`));
        gateway = await Gateway.start(assembled(message.runtime), {
          logger,
          role: 'traffic',
          ticketKeys: message.ticketKeys,
          metricsWorker: String(id),
          attachAuthProtection: (protection) => {
            shield = protection;
            protection.attach(
              {
                outcome: (outcome, user, address) => send({ t: 'authOutcome', outcome, user, address }),
                totals: (delta) => send({ t: 'authTotals', delta }),
              },
              message.shield,
            );
          },
          onBackendResult: (backend, ok, code) => {
            if (ok) {
              if (!failing.has(backend)) return;
              failing.delete(backend);
            } else failing.add(backend);
            send({ t: 'result', pool: backend.pool, backend: backend.name, ok, ...(code !== undefined ? { code } : {}) });
          },
        });
        applyStates(gateway.pools, message.states);
        const { https, http } = gateway.addresses;
        send({ t: 'listening', https: `${https.address}:${https.port}`, ...(http ? { http: `${http.address}:${http.port}` } : {}) });
        return;
      }
      case 'runtime':
        if (!gateway) return;
        // Listen, admin and logging stay as this worker started with them (reload keeps them): a restart applies them.
        gateway.reload(assembled(message.runtime));
        applyStates(gateway.pools, message.states);
        return;
      case 'state':
        if (gateway) applyStates(gateway.pools, message.states);
        return;
      case 'authLock':
        shield?.store.mirrorLock(message.lock);
        return;
      case 'authClear':
        shield?.store.clear(message.kind, message.key);
        return;
      case 'authFamiliar':
        shield?.store.mirrorFamiliar(message.user, message.address, message.until);
        return;
      case 'closeLongLived':
        gateway?.pools.get(message.pool)?.find(message.backend)?.closeLongLived(message.reason, message.minAgeMs);
        return;
      case 'reopenLogs':
        await gateway?.reopenLogs();
        return;
      case 'ticketKeys':
        gateway?.setTicketKeys(message.keys);
        return;
      case 'query':
        if (!gateway) return;
        if (message.what === 'counts') send({ t: 'reply', id: message.id, counts: gateway.liveCounts() });
        else {
          const m = gateway.metrics;
          const own = m.processRegistry === m.registry ? [] : perProcess(await m.processRegistry.getMetricsAsJSON());
          send({ t: 'reply', id: message.id, metrics: [...(await m.registry.getMetricsAsJSON()), ...own] });
        }
        return;
      case 'retire':
        if (retiring || !gateway) return;
        retiring = true;
        logger.info('worker retiring: no new connections; requests and long-lived connections finish', { drainTimeout: `${message.timeoutMs}ms` });
        await gateway.retire(message.timeoutMs);
        logger.info('worker retired');
        process.exit(0);
        return;
      case 'stop':
        shield?.sendTotals();
        await gateway?.stop();
        process.exit(0);
    }
  }
}
