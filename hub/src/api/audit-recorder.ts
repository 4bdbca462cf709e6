/** The one helper every mutating route records its change in the audit log with. */
import { childLogger } from '@sightline/shared';
import type { Context } from 'hono';
import { type AuditAction, appendAudit } from '../store/audit-log.ts';
import type { Store } from '../store/db.ts';
import { storeErrorReason } from '../store/store-errors.ts';
import type { AuthEnv } from './auth.ts';

const log = childLogger('audit');

/** Records one change made by the request's token; see {@link auditRecorder}. */
export type RecordAudit = (
  c: Context<AuthEnv>,
  action: AuditAction,
  target: string,
  detail?: Record<string, unknown>,
) => Promise<void>;

/**
 * Records changes in the audit log, after they were made. A failure to write the entry (the store gone away just
 * then) does not undo or fail the change the caller already made: the entry goes to the hub's log in full instead
 * (error level, "audit entry not written"), from where it can be recovered.
 */
export function auditRecorder(store: Store): RecordAudit {
  return async (c, action, target, detail) => {
    const auth = c.get('auth');
    const entry = { tokenId: auth.id, role: auth.role, action, target, detail };
    try {
      await appendAudit(store, entry);
    } catch (err) {
      log.error({ audit: entry, err: storeErrorReason(err) }, 'audit entry not written');
    }
  };
}
