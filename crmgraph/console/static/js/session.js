// Who is signed in: the token (a JWT or an API key) in sessionStorage, gone when the tab closes or on sign-out.

const TOKEN = "crmgraph.console.token";
const WHO = "crmgraph.console.who";

export function token() {
  return sessionStorage.getItem(TOKEN);
}

export function who() {
  const stored = sessionStorage.getItem(WHO);
  return stored ? JSON.parse(stored) : null;
}

export function signIn(credential, via) {
  sessionStorage.setItem(TOKEN, credential);
  sessionStorage.setItem(WHO, JSON.stringify({ ...describe(credential), via }));
}

export function signOut() {
  sessionStorage.removeItem(TOKEN);
  sessionStorage.removeItem(WHO);
}

// What the page says about the credential: a JWT's subject and roles (read, not verified: the facade
// verifies it on every request), or that it is an API key.
function describe(credential) {
  const parts = credential.split(".");
  if (parts.length !== 3) return { subject: "API key", roles: [] };
  try {
    const payload = JSON.parse(atob(parts[1].replace(/-/g, "+").replace(/_/g, "/")));
    const roles = Array.isArray(payload.roles) ? payload.roles : payload.roles ? [payload.roles] : [];
    return { subject: String(payload.sub || "?"), roles, ownerId: payload.owner_id || null };
  } catch {
    return { subject: "token", roles: [] };
  }
}
