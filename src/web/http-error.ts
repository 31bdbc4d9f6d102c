// An error the API answers with its own status and code, and how a request's path is shown in a
// message: shared by the app's routes and the investigate routes.

export class HttpError extends Error {
  constructor(
    readonly statusCode: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

/**
 * A path (or Host) as error messages show it: characters outside a URL's safe set
 * percent-encoded, at most 200 of them, so no message carries markup from the request.
 */
export function shownPath(text: string): string {
  const cut = text.length > 200 ? `${text.slice(0, 200)}…` : text;
  return cut.replace(/[^A-Za-z0-9\-._~!$()*+,;=:@/%\[\]…]/g, (c) =>
    Array.from(Buffer.from(c, 'utf8'), (b) => `%${b.toString(16).toUpperCase().padStart(2, '0')}`).join(''),
  );
}
