import * as fs from 'node:fs';
import * as path from 'node:path';
import express, { type Request, type RequestHandler, type Response, type Router } from 'express';
import { readCookie, SESSION_COOKIE, type Authenticator, type AuthResult } from './auth';

/**
 * Signing in and the gate in front of everything else. The login page (and its stylesheet)
 * and /healthz are the only routes open without a secret.
 */
export function authRoutes(auth: Authenticator, publicDir: string): Router {
  const router = express.Router();
  const loginPage = fs.readFileSync(path.join(publicDir, 'login.html'), 'utf8');

  const showLogin = (res: Response, status: number, message: string, next: string) =>
    res
      .status(status)
      .type('html')
      .set('Cache-Control', 'no-store')
      .send(loginPage.replace('<!--message-->', escapeHtml(message)).replace('value="/"', `value="${escapeHtml(next)}"`));

  router.get('/login', (req, res) => showLogin(res, 200, '', safeNext(req.query.next)));
  router.get('/login.css', (_req, res) => res.sendFile(path.join(publicDir, 'login.css')));

  // Form posts (the login page works without JavaScript) and JSON (scripts) both sign in.
  router.post('/login', express.urlencoded({ extended: false, limit: '4kb' }), express.json({ limit: '4kb' }), (req, res) => {
    const secret = typeof req.body?.token === 'string' ? req.body.token : '';
    const next = safeNext(req.body?.next);
    const wantsJson = Boolean(req.is('application/json'));
    const result = auth.signIn(req, secret);
    if (result.ok) {
      setSessionCookie(res, auth);
      if (wantsJson) res.status(204).end();
      else res.redirect(303, next);
      return;
    }
    const message = result.reason === 'blocked' ? `Too many failed sign-ins from this address. Try again in ${result.retryAfterSeconds} s.` : 'That token is not right.';
    if (result.reason === 'blocked') res.set('Retry-After', String(result.retryAfterSeconds));
    const status = result.reason === 'blocked' ? 429 : 401;
    if (wantsJson) res.status(status).json({ error: message });
    else showLogin(res, status, message, next);
  });

  // Ends the session on the server: a copy of the cookie (another tab, a stolen value) dies too.
  router.post('/logout', (req, res) => {
    const cookie = readCookie(req.headers.cookie, SESSION_COOKIE);
    if (cookie !== undefined) auth.endSession(cookie);
    res.clearCookie(SESSION_COOKIE, { path: '/' });
    res.redirect(303, '/login');
  });
  return router;
}

/**
 * Lets through requests that carry the secret or a session; answers the rest 401 (429 when
 * the address is blocked). A browser opening a page is sent to the login page instead, and
 * `GET /?token=...` (the URL printed at first start) signs in and drops the token from the
 * address bar.
 */
export function requireAuth(auth: Authenticator): RequestHandler {
  return (req, res, next) => {
    if (!auth.required) return next();
    if (req.method === 'GET' && req.path === '/' && typeof req.query.token === 'string') {
      const signedIn = auth.signIn(req, req.query.token);
      if (signedIn.ok) {
        setSessionCookie(res, auth);
        res.redirect(303, '/');
        return;
      }
      return refuse(req, res, signedIn);
    }
    const result = auth.check(req);
    if (result.ok) return next();
    refuse(req, res, result);
  };
}

function refuse(req: Request, res: Response, result: Exclude<AuthResult, { ok: true }>): void {
  res.set('Cache-Control', 'no-store');
  if (result.reason === 'blocked') {
    res.set('Retry-After', String(result.retryAfterSeconds));
    res.status(429).json({ error: `too many failed sign-ins from this address; try again in ${result.retryAfterSeconds} s` });
    return;
  }
  // Players (VLC, Home Assistant) answer a Basic challenge with user:token; tools send Bearer.
  const isPicture = req.path === '/stream.mjpg' || req.path === '/snapshot.jpg';
  const isPage = req.method === 'GET' && !isPicture && !req.path.startsWith('/api/') && req.accepts(['html', 'json']) === 'html';
  if (isPage && result.reason === 'missing') {
    res.redirect(303, `/login?next=${encodeURIComponent(req.originalUrl)}`);
    return;
  }
  res.set('WWW-Authenticate', isPicture ? 'Basic realm="edgesight", charset="UTF-8"' : 'Bearer realm="edgesight"');
  res.status(401).json({ error: result.reason === 'wrong' ? 'wrong token or password' : 'sign in required: send Authorization: Bearer <token>, or sign in at /login' });
}

function setSessionCookie(res: Response, auth: Authenticator): void {
  const session = auth.newSessionCookie();
  // Lax, not Strict: opening the printed URL from another app must keep the session it sets.
  res.cookie(SESSION_COOKIE, session.value, { httpOnly: true, sameSite: 'lax', path: '/', maxAge: session.maxAgeSeconds * 1000 });
}

/** Only local paths: a login link cannot send the user to another site afterwards. */
function safeNext(value: unknown): string {
  return typeof value === 'string' && value.startsWith('/') && !value.startsWith('//') && !value.startsWith('/\\') ? value : '/';
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}
