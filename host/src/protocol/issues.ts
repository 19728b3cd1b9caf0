// Schema failures in words a client can act on: "params._meta: expected
// object, received number" instead of a dump of zod's issue objects.
import type { z } from 'zod';

/** Each issue as "path: message", joined with "; " (the path is left out for the value itself). */
export function issuesInWords(error: z.ZodError): string {
  return error.issues.map((issue) => (issue.path.length > 0 ? `${issue.path.join('.')}: ${issue.message}` : issue.message)).join('; ');
}
