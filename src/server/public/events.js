// The dashboard's events list: newest first with thumbnails, a label filter, paging, a viewer
// for one event (annotated and raw snapshot), delete one or all. New events arrive through the
// page's socket.io connection (app.js re-dispatches `event` messages as `edgesight:event`).
const $ = (id) => document.getElementById(id);
const PAGE = 20;
const list = $('events-list');
const filter = $('events-label');
const more = $('events-more');
const message = $('events-message');
const dialog = $('event-dialog');
let offset = 0;
let total = 0;
const knownLabels = new Set();

function when(ms) {
  const d = new Date(ms);
  const today = new Date().toDateString() === d.toDateString();
  return today ? d.toLocaleTimeString() : d.toLocaleString();
}

function seconds(ev) {
  return ev.end === null ? 'open' : `${((ev.end - ev.start) / 1000).toFixed(1)} s`;
}

function row(ev) {
  const li = document.createElement('li');
  li.dataset.id = ev.id;
  const thumb = document.createElement('img');
  thumb.alt = `${ev.label} snapshot`;
  thumb.loading = 'lazy';
  thumb.width = 80;
  thumb.height = 60;
  if (ev.snapshots.annotated) thumb.src = `/api/events/${ev.id}/snapshot.jpg`;
  const text = document.createElement('div');
  const label = document.createElement('strong');
  label.textContent = ev.label;
  const detail = document.createElement('span');
  detail.className = 'muted';
  detail.textContent = `${when(ev.start)} · ${seconds(ev)} · peak ${Math.round(ev.peakConfidence * 100)}%${ev.interrupted ? ' · interrupted' : ''}`;
  text.append(label, document.createElement('br'), detail);
  li.append(thumb, text);
  li.tabIndex = 0;
  li.addEventListener('click', () => open(ev.id));
  li.addEventListener('keydown', (e) => e.key === 'Enter' && open(ev.id));
  return li;
}

function noteLabel(label) {
  if (knownLabels.has(label)) return;
  knownLabels.add(label);
  const option = document.createElement('option');
  option.value = option.textContent = label;
  filter.append(option);
}

async function load(reset) {
  if (reset) {
    offset = 0;
    list.replaceChildren();
  }
  const q = new URLSearchParams({ offset: String(offset), limit: String(PAGE) });
  if (filter.value) q.set('label', filter.value);
  const res = await fetch(`/api/events?${q}`, { credentials: 'same-origin' });
  if (!res.ok) {
    message.textContent = (await res.json().catch(() => ({}))).error ?? `HTTP ${res.status}`;
    return;
  }
  const page = await res.json();
  total = page.total;
  for (const ev of page.items) {
    noteLabel(ev.label);
    // One that arrived live meanwhile is already listed.
    if (!list.querySelector(`li[data-id="${CSS.escape(ev.id)}"]`)) list.append(row(ev));
  }
  offset += page.items.length;
  more.hidden = offset >= total;
  message.textContent = total === 0 ? 'No events yet.' : `${total} event${total === 1 ? '' : 's'}`;
}

async function open(id) {
  const res = await fetch(`/api/events/${id}`, { credentials: 'same-origin' });
  if (!res.ok) return void (message.textContent = `event ${id} is gone`);
  const ev = await res.json();
  $('event-title').textContent = `${ev.label} — ${when(ev.start)} (${seconds(ev)}, peak ${Math.round(ev.peakConfidence * 100)}%)`;
  const img = $('event-image');
  img.src = ev.snapshots.annotated ? `/api/events/${id}/snapshot.jpg` : '';
  img.hidden = !ev.snapshots.annotated;
  const raw = $('event-raw');
  raw.href = `/api/events/${id}/raw.jpg`;
  raw.hidden = !ev.snapshots.raw;
  const play = $('event-play');
  const clip = $('event-clip');
  play.hidden = clip.hidden = !ev.clip;
  if (ev.clip) {
    clip.href = `/api/events/${id}/clip.avi`;
    play.textContent = `Play clip (${ev.clip.seconds} s)`;
  }
  dialog.dataset.id = id;
  dialog.showModal();
}

// The clip plays as a paced multipart JPEG stream in the same <img>; closing the dialog stops it.
$('event-play').addEventListener('click', () => {
  const img = $('event-image');
  img.hidden = false;
  img.src = `/api/events/${dialog.dataset.id}/clip.mjpg?t=${Date.now()}`;
});
dialog.addEventListener('close', () => {
  $('event-image').src = '';
});
$('event-close').addEventListener('click', () => dialog.close());
$('event-delete').addEventListener('click', async () => {
  const id = dialog.dataset.id;
  const res = await fetch(`/api/events/${id}`, { method: 'DELETE', credentials: 'same-origin' });
  dialog.close();
  if (res.ok) {
    list.querySelector(`li[data-id="${CSS.escape(id)}"]`)?.remove();
    total = Math.max(0, total - 1);
    offset = Math.max(0, offset - 1);
    message.textContent = `${total} event${total === 1 ? '' : 's'}`;
  }
});
$('events-delete-all').addEventListener('click', async () => {
  if (!confirm('Delete every event and its snapshots?')) return;
  const res = await fetch('/api/events', { method: 'DELETE', credentials: 'same-origin' });
  if (res.ok) await load(true);
});
filter.addEventListener('change', () => void load(true));
more.addEventListener('click', () => void load(false));

window.addEventListener('edgesight:event', (e) => {
  const { phase, event: ev } = e.detail;
  noteLabel(ev.label);
  if (filter.value && filter.value !== ev.label) return;
  const existing = list.querySelector(`li[data-id="${CSS.escape(ev.id)}"]`);
  if (existing) existing.replaceWith(row(ev));
  else if (phase === 'start' || phase === 'end') {
    list.prepend(row(ev));
    total++;
    offset++;
    message.textContent = `${total} event${total === 1 ? '' : 's'}`;
  }
  // Bounded: the page keeps at most a few pages of rows.
  while (list.children.length > PAGE * 5) list.lastElementChild.remove();
});

void load(true);
