// Shared by the admin and operator consoles: calls to the relay's REST API
// with the session cookie (sent by the browser) and the CSRF token, and
// errors in plain words.

let csrfToken = "";

/** Remembers the CSRF token from the login answer or GET /api/v1/me. */
export function setCsrf(token) {
  csrfToken = token || "";
}

/** An API error: `message` is what went wrong, `whatToDo` what to do next. */
export class ApiError extends Error {
  constructor(status, message, whatToDo, body) {
    super(message);
    this.status = status;
    this.whatToDo = whatToDo || "";
    this.body = body || {};
  }
  /** Both sentences, for showing to people. */
  toString() {
    return this.whatToDo ? `${this.message} ${this.whatToDo}` : this.message;
  }
}

/**
 * Calls `method path` with an optional JSON body; resolves to the parsed
 * JSON answer (or the Response for non-JSON answers), rejects with ApiError.
 */
export async function api(method, path, body) {
  const headers = {};
  if (method !== "GET" && method !== "HEAD") {
    headers["X-CSRF-Token"] = csrfToken;
  }
  if (body !== undefined) {
    headers["Content-Type"] = "application/json";
  }
  let response;
  try {
    response = await fetch(path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      credentials: "same-origin",
    });
  } catch (e) {
    throw new ApiError(0, "The relay cannot be reached.", "Check the network connection and try again.");
  }
  const type = response.headers.get("Content-Type") || "";
  if (!type.startsWith("application/json")) {
    if (response.ok) return response;
    throw new ApiError(response.status, `The relay answered ${response.status}.`, "Try again.");
  }
  const data = await response.json().catch(() => ({}));
  if (!response.ok) {
    throw new ApiError(
      response.status,
      data.error || `The relay answered ${response.status}.`,
      data.what_to_do || "",
      data,
    );
  }
  return data;
}

/** Shows an error (or clears it with null) in `element`. */
export function showError(element, error) {
  element.textContent = error ? String(error) : "";
}
