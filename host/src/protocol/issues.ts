// Schema failures in words a client can act on: "params._meta: expected
// object, received number" instead of a dump of zod's issue objects.
import type { $ZodError } from 'zod/v4/core';

/** Each issue as "path: message", joined with "; " (the path is left out for the value itself). Classic zod's errors and zod mini's alike. */
export function issuesInWords(error: $ZodError): string {
  return error.issues.map((issue) => (issue.path.length > 0 ? `${issue.path.map(String).join('.')}: ${issue.message}` : issue.message)).join('; ');
}
