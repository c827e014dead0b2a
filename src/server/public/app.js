// The edgesight dashboard: one socket.io connection (the session cookie authenticates it),
// frames drawn on a canvas, controls through the REST API. No build step, no CDN.
import { io } from '/vendor/socket.io.esm.min.js';
import { initDataset, setModelLabels } from './dataset.js';

const $ = (id) => document.getElementById(id);
const canvas = $('frame');
const ctx = canvas.getContext('2d');
const TIMELINE_LENGTH = 120;
const timeline = [];
const labelColors = new Map();
let labels = [];
let clockOffsetMs = 0;
let paused = false;
let shown = 0;

const socket = io({ auth: {}, reconnectionDelayMax: 5000 });
initDataset(socket);

function setConnection(state, text) {
  const pill = $('connection');
  pill.dataset.state = state;
  pill.textContent = text;
}

socket.on('connect', () => {
  setConnection('live', 'live');
  syncClock();
  if (paused) socket.emit('pause');
});
socket.on('disconnect', (reason) => {
  setConnection('reconnecting', 'reconnecting…');
  // socket.io retries by itself after a lost connection, but not after the server hung up
  // (a restart, a new model): the dashboard stays open for months, so it retries too.
  if (reason === 'io server disconnect') setTimeout(() => socket.connect(), 1000);
});
socket.io.on('reconnect_attempt', (n) => setConnection('reconnecting', `reconnecting (${n})…`));
socket.on('connect_error', (err) => {
  if (/unauthorized|wrong token/.test(err.message)) {
    location.assign('/login?next=/');
    return;
  }
  setConnection('offline', `offline: ${err.message}`);
  // Errors from the server's middleware stop socket.io's own retries; keep trying.
  if (!socket.active) setTimeout(() => socket.connect(), 3000);
});

/** Estimates server clock minus ours, so latency can be shown from the server's capture time. */
function syncClock() {
  const sent = Date.now();
  socket.timeout(5000).emit('clock', (err, serverTime) => {
    if (err) return;
    const received = Date.now();
    clockOffsetMs = serverTime - (sent + received) / 2;
  });
}
setInterval(syncClock, 60_000);

socket.on('hello', (hello) => {
  showModel(hello.model);
  showSource(hello.source);
  $('backend').textContent = hello.backend;
  showSettings(hello.settings);
});
socket.on('source', showSource);
socket.on('settings', showSettings);
socket.on('model', (model) => {
  showModel(model);
  $('model-message').textContent = `now serving ${model.name} ${model.version}`;
});
socket.on('modelRejected', (rejected) => {
  $('model-message').textContent = `new model refused (${rejected.origin}): ${rejected.error}`;
});
socket.on('status', showStatus);
// The events list (events.js) listens for these.
socket.on('event', (message) => window.dispatchEvent(new CustomEvent('edgesight:event', { detail: message })));

socket.on('frame', async (meta, jpeg, ack) => {
  try {
    const bitmap = await createImageBitmap(new Blob([jpeg], { type: 'image/jpeg' }));
    if (canvas.width !== bitmap.width || canvas.height !== bitmap.height) {
      canvas.width = bitmap.width;
      canvas.height = bitmap.height;
    }
    ctx.drawImage(bitmap, 0, 0);
    bitmap.close();
  } catch (err) {
    console.warn('frame could not be drawn', err);
  } finally {
    // Asking for the next frame only once this one is drawn is the flow control: a slow
    // phone gets fewer frames instead of a growing backlog.
    ack();
  }
  showPrediction(meta);
});

function showPrediction(meta) {
  shown++;
  $('frames-shown').textContent = String(shown);
  $('frames-shown').dataset.count = String(shown);
  const label = $('label');
  label.textContent = meta.label;
  label.classList.toggle('uncertain', meta.uncertain);
  $('confidence').textContent = `${(meta.confidence * 100).toFixed(1)}%${meta.truth !== undefined ? `  (scene: ${meta.truth})` : ''}`;
  $('infer-ms').textContent = meta.timings.infer.toFixed(1);
  const latency = Date.now() + clockOffsetMs - meta.capturedAt;
  $('latency-ms').textContent = Math.max(0, latency).toFixed(0);
  renderTopk(meta.topk);
  timeline.push(meta.label);
  if (timeline.length > TIMELINE_LENGTH) timeline.shift();
  renderTimeline();
}

function renderTopk(topk) {
  const list = $('topk');
  list.replaceChildren(
    ...topk.map((entry) => {
      const item = document.createElement('li');
      const name = document.createElement('span');
      name.className = 'name';
      name.textContent = entry.label;
      const bar = document.createElement('span');
      bar.className = 'bar';
      const fill = document.createElement('span');
      fill.style.width = `${Math.round(entry.confidence * 100)}%`;
      bar.append(fill);
      const value = document.createElement('span');
      value.textContent = `${Math.round(entry.confidence * 100)}%`;
      item.append(name, bar, value);
      return item;
    }),
  );
}

function colorOf(label) {
  if (!labelColors.has(label)) {
    const index = labels.indexOf(label);
    const hue = index < 0 ? 0 : (index * 137.5) % 360;
    labelColors.set(label, index < 0 ? 'hsl(0 0% 35%)' : `hsl(${hue} 65% 52%)`);
  }
  return labelColors.get(label);
}

function renderTimeline() {
  const strip = $('timeline');
  strip.replaceChildren(
    ...timeline.map((label) => {
      const cell = document.createElement('span');
      cell.style.background = colorOf(label);
      cell.title = label;
      return cell;
    }),
  );
  const seen = [...new Set(timeline)].slice(-12);
  $('timeline-legend').replaceChildren(
    ...seen.map((label) => {
      const entry = document.createElement('span');
      const swatch = document.createElement('i');
      swatch.style.background = colorOf(label);
      entry.append(swatch, label);
      return entry;
    }),
  );
}

function showModel(model) {
  labels = model.labels;
  setModelLabels(model.labels);
  labelColors.clear();
  $('model-name').textContent = `${model.name} ${model.version}`;
  $('model').textContent = `${model.name} ${model.version} · ${model.labels.length} labels · ${model.input.width}×${model.input.height}×${model.input.channels}`;
  $('model-line').textContent = `${model.name} ${model.version}: ${model.labels.slice(0, 8).join(', ')}${model.labels.length > 8 ? ', …' : ''}`;
}

function showSource(source) {
  const state = source.state === 'reconnecting' ? `reconnecting, attempt ${source.attempt}` : source.state;
  $('source').textContent = `${source.description} (${state}${source.error ? `: ${source.error}` : ''})`;
}

function showSettings(settings) {
  const threshold = settings['decision.threshold'];
  // Do not move the slider under a finger that is dragging it.
  if (document.activeElement !== $('threshold')) $('threshold').value = String(threshold);
  $('threshold-value').textContent = threshold.toFixed(2);
  $('overlay').checked = settings['overlay.enabled'];
}

function showStatus(status) {
  $('fps').textContent = status.fps.toFixed(1);
  $('frames-info').textContent = `${status.frames.classified} classified, ${status.frames.dropped} dropped`;
  $('clients').textContent = `${status.clients.live} live, ${status.clients.mjpeg} MJPEG`;
  $('uptime').textContent = formatDuration(status.uptimeSeconds);
  $('temperature').textContent = status.cpuTemperatureC === null ? 'n/a' : `${status.cpuTemperatureC.toFixed(1)} °C`;
  showSource(status.source);
}

function formatDuration(seconds) {
  const d = Math.floor(seconds / 86400);
  const h = Math.floor((seconds % 86400) / 3600);
  const m = Math.floor((seconds % 3600) / 60);
  return d ? `${d}d ${h}h` : h ? `${h}h ${m}m` : `${m}m ${seconds % 60}s`;
}

async function changeSettings(patch) {
  $('control-error').textContent = '';
  try {
    const res = await fetch('/api/settings', {
      method: 'PATCH',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify(patch),
      credentials: 'same-origin',
    });
    const body = await res.json();
    if (!res.ok) throw new Error(body.error ?? res.statusText);
    showSettings(body);
  } catch (err) {
    $('control-error').textContent = `could not change settings: ${err.message}`;
  }
}

$('threshold').addEventListener('input', () => {
  $('threshold-value').textContent = Number($('threshold').value).toFixed(2);
});
$('threshold').addEventListener('change', () => changeSettings({ 'decision.threshold': Number($('threshold').value) }));
$('overlay').addEventListener('change', () => changeSettings({ 'overlay.enabled': $('overlay').checked }));
$('pause').addEventListener('click', () => {
  paused = !paused;
  socket.emit(paused ? 'pause' : 'resume');
  $('pause').textContent = paused ? 'Resume' : 'Pause';
  $('paused-banner').hidden = !paused;
});

/** Sends a model package to the daemon, which checks it and swaps it in (or says why not). */
async function sendModel(body, headers = {}) {
  $('model-message').textContent = 'checking the new model…';
  try {
    const res = await fetch('/api/model', { method: 'POST', body, headers, credentials: 'same-origin' });
    const answer = await res.json();
    $('model-message').textContent = res.ok ? `now serving ${answer.model.name} ${answer.model.version}` : `refused: ${answer.error}`;
  } catch (err) {
    $('model-message').textContent = `upload failed: ${err.message}`;
  }
}

$('model-zip').addEventListener('change', () => {
  const files = [...$('model-zip').files];
  if (files.length === 1 && files[0].name.toLowerCase().endsWith('.zip')) {
    void sendModel(files[0], { 'Content-Type': 'application/zip' });
  } else if (files.length > 0) {
    // A Keras file, with the labels.txt or metadata.json picked beside it, one part each.
    const form = new FormData();
    for (const file of files) form.append('file', file, file.name);
    void sendModel(form);
  }
  $('model-zip').value = '';
});
$('model-folder').addEventListener('change', () => {
  const form = new FormData();
  for (const file of $('model-folder').files) {
    // "mymodel/selftest/cat/1.jpg" -> "selftest/cat/1.jpg": paths inside the package.
    form.append('file', file, file.webkitRelativePath.split('/').slice(1).join('/'));
  }
  void sendModel(form);
  $('model-folder').value = '';
});
$('rollback').addEventListener('click', async () => {
  const res = await fetch('/api/model/rollback', { method: 'POST', credentials: 'same-origin' });
  const answer = await res.json();
  $('model-message').textContent = res.ok ? `rolled back to ${answer.model.name} ${answer.model.version}` : `cannot roll back: ${answer.error}`;
});
