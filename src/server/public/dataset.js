// The dashboard's dataset panel: take samples from the live camera (one, a burst while the
// button is held, or one every N seconds), see the counts and disk use, page through thumbnails,
// relabel, delete, and label the hard examples kept in _unlabelled. Plain JS, no inline script.
const $ = (id) => document.getElementById(id);
const UNLABELLED = '_unlabelled';
const PAGE_SIZE = 24;
let socket;
let modelLabels = [];
let summary;
let shownLabel;
let page = 1;
let refreshTimer;
let gridKey = '';

export function initDataset(liveSocket) {
  socket = liveSocket;
  socket.on('dataset', onNotice);
  socket.on('connect', () => void refresh());
  $('dataset-one').addEventListener('click', () => capture({ count: 1 }));
  $('dataset-timed').addEventListener('click', () => {
    const count = Number($('dataset-count').value);
    const everySeconds = Number($('dataset-every').value);
    capture(everySeconds > 0 ? { count, everySeconds } : { count });
  });
  $('dataset-stop').addEventListener('click', () => socket.emit('captureStop', () => void refresh()));
  // A burst while held: as many frames as the daemon allows, stopped on release.
  const burst = $('dataset-burst');
  burst.addEventListener('pointerdown', (event) => {
    burst.setPointerCapture(event.pointerId);
    capture({ count: summary?.maxBurst ?? 50 });
  });
  for (const type of ['pointerup', 'pointercancel']) burst.addEventListener(type, () => socket.emit('captureStop'));
  $('dataset-prev').addEventListener('click', () => showPage(page - 1));
  $('dataset-next').addEventListener('click', () => showPage(page + 1));
}

export function setModelLabels(labels) {
  modelLabels = labels;
  fillLabelChoices();
}

function label() {
  return $('dataset-label').value.trim();
}

function say(text) {
  $('dataset-message').textContent = text;
}

function capture(options) {
  const request = { label: label(), ...options };
  say(`capturing ${request.count} of ${request.label}…`);
  socket.timeout(600_000).emit('capture', request, (err, answer) => {
    if (err) return say('no answer from the daemon');
    if (answer.error) return say(`not captured: ${answer.error}`);
    const { job, samples } = answer;
    if (job.state === 'running') say(`capturing ${job.count} of ${job.label}, one every ${job.everySeconds} s`);
    else say(`${samples.length} sample(s) of ${job.label} saved${job.message && job.state !== 'done' ? ` (${job.state}: ${job.message})` : ''}`);
    if (!shownLabel) shownLabel = job.label;
  });
}

function onNotice(notice) {
  if (notice.type === 'full') showFull(notice.message);
  if (notice.type === 'job' && notice.job.state === 'running' && notice.job.everySeconds) say(`capturing ${notice.job.label}: ${notice.job.saved} of ${notice.job.count}`);
  if (notice.type === 'sample' && notice.job?.everySeconds) say(`capturing ${notice.job.label}: ${notice.job.saved} of ${notice.job.count}`);
  // Many notices in a burst: one refresh for all of them.
  clearTimeout(refreshTimer);
  refreshTimer = setTimeout(() => void refresh(), 300);
}

function showFull(message) {
  $('dataset-full').textContent = message ? `Capture stopped: ${message}` : '';
}

async function api(method, url, body) {
  const res = await fetch(url, {
    method,
    credentials: 'same-origin',
    headers: body ? { 'Content-Type': 'application/json' } : {},
    body: body ? JSON.stringify(body) : undefined,
  });
  if (res.status === 204) return {};
  const answer = await res.json();
  if (!res.ok) throw new Error(answer.error ?? res.statusText);
  return answer;
}

async function refresh() {
  try {
    summary = await api('GET', '/api/dataset');
  } catch (err) {
    say(`dataset unavailable: ${err.message}`);
    return;
  }
  showFull(summary.full);
  const mb = (b) => (b / 1048576).toFixed(1);
  $('dataset-disk').textContent = `${summary.total} samples · ${mb(summary.bytes)} of ${mb(summary.capBytes)} MB · ${mb(summary.freeBytes)} MB free on disk`;
  $('dataset-counts').replaceChildren(
    ...summary.labels.map((entry) => {
      const button = document.createElement('button');
      button.type = 'button';
      button.className = entry.label === shownLabel ? 'chip selected' : 'chip';
      button.dataset.label = entry.label;
      button.textContent = `${entry.label === UNLABELLED ? 'unlabelled' : entry.label} ${entry.count}`;
      button.addEventListener('click', () => {
        shownLabel = entry.label;
        void showPage(1);
      });
      return button;
    }),
  );
  fillLabelChoices();
  if (!shownLabel && summary.labels.length) shownLabel = summary.labels[0].label;
  await showPage(page);
}

function fillLabelChoices() {
  const names = new Set([...modelLabels, ...(summary?.labels ?? []).map((l) => l.label).filter((l) => l !== UNLABELLED)]);
  $('dataset-labels').replaceChildren(
    ...[...names].map((name) => {
      const option = document.createElement('option');
      option.value = name;
      return option;
    }),
  );
}

async function showPage(wanted) {
  if (!shownLabel) {
    $('dataset-grid').replaceChildren();
    $('dataset-page').textContent = '';
    return;
  }
  let list;
  try {
    list = await api('GET', `/api/dataset/samples?label=${encodeURIComponent(shownLabel)}&page=${Math.max(1, wanted)}&pageSize=${PAGE_SIZE}`);
  } catch (err) {
    say(err.message);
    return;
  }
  if (list.page > list.pages && list.pages >= 1) return showPage(list.pages);
  page = list.page;
  for (const chip of $('dataset-counts').children) chip.classList.toggle('selected', chip.dataset.label === shownLabel);
  $('dataset-page').textContent = `${shownLabel === UNLABELLED ? 'unlabelled' : shownLabel}: page ${list.page} of ${list.pages} (${list.total})`;
  $('dataset-prev').disabled = list.page <= 1;
  $('dataset-next').disabled = list.page >= list.pages;
  // Rebuilt only when its samples changed: a label being typed into a tile must survive the
  // refreshes that every kept frame (a hard example elsewhere) causes.
  const key = `${shownLabel}\n${list.items.map((item) => item.id).join('\n')}`;
  if (key === gridKey) return;
  gridKey = key;
  $('dataset-grid').replaceChildren(...list.items.map(tile));
}

function sampleUrl(sample) {
  return `/api/dataset/samples/${encodeURIComponent(sample.label)}/${encodeURIComponent(sample.name)}`;
}

function tile(sample) {
  const figure = document.createElement('figure');
  figure.className = 'sample';
  figure.dataset.id = sample.id;
  const link = document.createElement('a');
  link.href = sampleUrl(sample);
  link.target = '_blank';
  const img = document.createElement('img');
  img.src = `${sampleUrl(sample)}/thumb`;
  img.alt = sample.id;
  img.loading = 'lazy';
  link.append(img);
  const caption = document.createElement('figcaption');
  if (sample.prediction) caption.textContent = `model: ${sample.prediction.label} ${Math.round(sample.prediction.confidence * 100)}%`;
  const controls = document.createElement('div');
  controls.className = 'sample-controls';
  const input = document.createElement('input');
  input.setAttribute('list', 'dataset-labels');
  input.placeholder = 'new label';
  input.className = 'relabel';
  const move = document.createElement('button');
  move.type = 'button';
  move.textContent = 'Move';
  move.className = 'move';
  move.addEventListener('click', () => void relabel(sample, input.value.trim()));
  input.addEventListener('keydown', (event) => event.key === 'Enter' && void relabel(sample, input.value.trim()));
  const remove = document.createElement('button');
  remove.type = 'button';
  remove.textContent = 'Delete';
  remove.className = 'delete';
  remove.addEventListener('click', () => void removeSample(sample));
  controls.append(input, move, remove);
  // An unlabelled sample: one click agrees with the model's guess.
  if (sample.label === UNLABELLED && sample.prediction && sample.prediction.label !== 'uncertain') {
    const accept = document.createElement('button');
    accept.type = 'button';
    accept.className = 'accept';
    accept.textContent = `It is ${sample.prediction.label}`;
    accept.addEventListener('click', () => void relabel(sample, sample.prediction.label));
    controls.append(accept);
  }
  figure.append(link, caption, controls);
  return figure;
}

async function relabel(sample, to) {
  if (!to) return say('type the new label first');
  try {
    await api('PATCH', sampleUrl(sample), { label: to });
    say(`${sample.name} moved to ${to}`);
  } catch (err) {
    say(`not moved: ${err.message}`);
  }
  await refresh();
}

async function removeSample(sample) {
  try {
    await api('DELETE', sampleUrl(sample));
    say(`${sample.name} deleted`);
  } catch (err) {
    say(`not deleted: ${err.message}`);
  }
  await refresh();
}
