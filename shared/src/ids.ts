/** The one id rule of every wire and config: edge, stream and run ids (safe in URLs, file names and log lines). */
import { z } from 'zod';

/** The id rule as a regular-expression fragment (no anchors), to build keys of several ids. */
export const ID_SOURCE = '[A-Za-z0-9][A-Za-z0-9_.-]{0,63}';
/** Edge, stream and run ids: 1-64 letters, digits, _ . -, starting with a letter or digit. */
export const ID_PATTERN = new RegExp(`^${ID_SOURCE}$`);
/** What a refused id is told (the rule of ID_PATTERN in words). */
export const ID_RULE = 'letters, digits, _ . - (max 64), starting with a letter or digit';

/** An edge, stream or run id (ID_PATTERN). */
export const IdSchema = z.string().regex(ID_PATTERN, ID_RULE);
