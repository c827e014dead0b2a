/**
 * Credentials inside addresses, hidden wherever an address is shown (the capture log, `edgesight
 * config`): the password of every scheme://user:password@host in the text (rtsp://admin:***@cam,
 * also inside a GStreamer pipeline or a comma-separated list), and the value of query parameters
 * that carry a secret (?token=***). The user name stays: it tells which account is used.
 */
export function redactUrl(text: string): string {
  return text.replace(USERINFO_PASSWORD, '$1:***@').replace(SECRET_QUERY, '$1***');
}

const USERINFO_PASSWORD = /\b([a-z][a-z0-9+.-]*:\/\/[^:/@\s,]+):[^@/\s]*@/gi;
const SECRET_QUERY = /([?&](?:token|access_token|auth|key|api_key|apikey|secret|password|pass|passwd|sig|signature)=)[^&#\s,]+/gi;
