import { BACKEND_PREFERENCES } from './backend-preference';
import { addressListField, autoOrIntegerField, booleanField, enumField, hostField, integerField, numberField, secretField, stringField, type Field } from './fields';

/**
 * The configuration schema: the single source of truth for every key, its type, default,
 * what it allows and its documentation (docs/configuration.md's table is generated from it by
 * `edgesight config --docs`). Keys are dotted paths; in JSON files they nest
 * (`{"decision": {"threshold": 0.6}}`), in the environment they are EDGESIGHT_SECTION_KEY
 * (`EDGESIGHT_DECISION_THRESHOLD=0.6`), on the command line `--set decision.threshold=0.6`.
 */
export const configSchema = {
  source: stringField(
    'auto',
    'Frame source: auto, camera, gstreamer, url, file, images, webcam, demo, or a bare device path, camera index, URL, video file or image folder (the kind is inferred).',
  ),

  'capture.retryAtStart': booleanField(false, 'A camera, GStreamer or URL source that cannot be opened at start is retried with backoff while the dashboard runs, instead of `run` exiting with code 4. The service install turns it on.'),
  'capture.stallSeconds': numberField(10, 1, 3600, 'A live source that delivers no frame for this long is closed and reopened (retries back off from 1 s to 30 s).'),

  'camera.device': stringField('', 'Camera for `camera`: a device path (prefer /dev/v4l/by-id/...) or an index. Empty: the first camera that opens.'),
  'camera.width': integerField(640, 16, 7680, 'Requested capture width in pixels.'),
  'camera.height': integerField(480, 16, 4320, 'Requested capture height in pixels.'),
  'camera.fps': integerField(30, 1, 240, 'Requested capture frame rate.'),
  'camera.preferMjpeg': booleanField(true, 'Ask the camera for MJPEG (less USB bandwidth, higher fps on a Pi) where it offers it.'),

  'gstreamer.pipeline': stringField(
    'libcamerasrc ! video/x-raw,width=640,height=480,framerate=30/1 ! videoconvert ! video/x-raw,format=BGR ! appsink drop=true max-buffers=1',
    'GStreamer pipeline for `gstreamer`, ending in appsink. The default reads the Raspberry Pi camera through libcamera.',
  ),
  'url.address': stringField('', 'RTSP or HTTP address of an IP camera for `url`.'),

  'file.path': stringField('', 'Video file for `file`.'),
  'file.loop': booleanField(true, 'Start the video again when it ends.'),
  'file.realtime': booleanField(true, "Play at the video's own fps; false reads as fast as the pipeline takes frames."),

  'images.folder': stringField('', 'Folder of images (jpg, png, bmp, webp) for `images`, played in name order.'),
  'images.fps': numberField(2, 0.01, 120, 'Images shown per second.'),
  'images.loop': booleanField(true, 'Start again after the last image.'),

  'webcam.device': stringField('/dev/video0', 'Device for `webcam` (node-webcam through fswebcam).'),

  'demo.fps': numberField(15, 1, 120, 'Frames per second of the built-in demo scene.'),
  'demo.secondsPerDigit': numberField(1.2, 0.1, 60, 'How long the demo shows one digit before changing to the next.'),
  'demo.seed': integerField(1, 0, 2 ** 31 - 1, 'Seed of the demo scene (which digits, how they move).'),

  'model.path': stringField('models/default', 'Model package directory (model.json + weights + metadata.json).'),
  'model.backend': enumField('auto', BACKEND_PREFERENCES, 'Inference backend: a TensorFlow.js backend (tfjs-node, wasm, cpu), or opencv (the model converted to ONNX and run by OpenCV DNN when it converts and matches TF.js within 1e-4 at load, else TF.js); auto takes tfjs-node when installed, else wasm, else cpu, and runs the model on whichever of that and OpenCV DNN is faster at load.'),
  'model.threads': integerField(0, 0, 64, 'Threads of OpenCV DNN inference (OpenCV\'s own pool); 0: OpenCV\'s default, every core.'),

  'decision.topK': integerField(3, 1, 100, 'How many ranked labels are reported and drawn.'),
  'decision.threshold': numberField(0.5, 0, 1, 'Below this confidence the decision is "uncertain".'),
  'decision.smoothing': enumField('none', ['none', 'average', 'vote'] as const, 'Temporal smoothing: average scores over the window, or vote (a label needs decision.votes of the last decision.window frames).'),
  'decision.window': integerField(5, 1, 100, 'Frames considered by smoothing.'),
  'decision.votes': integerField(3, 1, 100, 'For vote smoothing: wins needed within the window.'),

  'overlay.enabled': booleanField(true, 'Draw label, confidence, top-k bars and speed onto the frames sent to viewers (nothing is drawn while nobody watches).'),
  'stream.jpegQuality': integerField(80, 10, 100, 'JPEG quality of encoded frames.'),
  'stream.maxFps': numberField(30, 0, 240, 'Most annotated frames per second encoded for viewers (dashboard, MJPEG); 0: one per classified frame.'),

  'server.enabled': booleanField(true, 'Serve the dashboard, live channel, MJPEG stream and REST API (`run` only).'),
  'server.host': hostField('0.0.0.0', 'Address to listen on: 0.0.0.0 for the whole LAN (phones, laptops), 127.0.0.1 for this machine only, :: for IPv6 as well.'),
  'server.port': integerField(8080, 0, 65535, 'TCP port of the dashboard and API; 0 picks a free port (logged).'),
  'server.auth': enumField('token', ['token', 'password', 'none'] as const, 'token: a generated token kept in the state directory; password: server.password; none: anyone who can reach the port (explicit opt-in).'),
  'server.password': secretField('Password for server.auth=password (at least 8 characters); prefer the EDGESIGHT_SERVER_PASSWORD variable to a file.'),
  'server.allowedOrigins': stringField('', "Comma-separated extra origins (such as https://cam.example.org behind a reverse proxy) allowed to open the live channel; the dashboard's own origin always is."),
  'server.trustedProxies': addressListField('', 'Comma-separated addresses or CIDR blocks of reverse proxies (nginx, Caddy) whose X-Forwarded-For header is believed: the sign-in limiter and the log then see the client behind the proxy. Empty: the socket address counts, whatever the header says.'),
  'server.maxViewers': integerField(16, 1, 1000, 'Most viewers at once: every live-channel client (with frames or only predictions) and every MJPEG stream holds one seat while connected; snapshots hold none. More are refused (socket.io connect_error, HTTP 503).'),
  'server.maxUploadMB': integerField(64, 1, 2048, 'Largest model package accepted by POST /api/model (edgesight deploy), in MB. Every package of this size fits a hot-swap under the unit\'s MemoryMax=1G beside the default model; one whose load would pass the memory limit is refused (422) with the numbers whatever its size, so raise both together.'),
  'server.historySize': integerField(1000, 10, 100000, 'Predictions kept in memory for GET /api/predictions (oldest dropped first).'),

  'state.dir': stringField('', 'Where the access token (and received models) are kept. Empty: $STATE_DIRECTORY (set by systemd), else /var/lib/edgesight when the configuration file is the service\'s /etc/edgesight/config.json (so `edgesight token` on the device finds the service\'s token), else $XDG_STATE_HOME/edgesight, else ~/.local/state/edgesight.'),

  'dataset.maxSide': integerField(0, 0, 16384, 'Samples captured for a dataset (POST /api/dataset/samples, `edgesight capture`) are downscaled so their longest side is at most this many pixels; 0 keeps the camera\'s full resolution.'),
  'dataset.jpegQuality': integerField(92, 10, 100, 'JPEG quality of dataset samples.'),
  'dataset.maxMB': numberField(1024, 0.01, 1048576, 'Most disk space the dataset (state directory dataset/) may use, in MB; capture stops with a message when the next sample would pass it.'),
  'dataset.minFreeMB': numberField(256, 0, 1048576, 'Capture also stops when less than this much space would be left free on the state directory\'s disk, in MB.'),
  'dataset.maxBurst': integerField(200, 1, 10000, 'Most samples one capture request may ask for (count).'),
  'dataset.hardExamples': booleanField(false, 'Keep frames the model is unsure of in dataset/_unlabelled/ (confidence under dataset.hardExamplesThreshold, or the smoothed label changed), for labelling in the dashboard.'),
  'dataset.hardExamplesThreshold': numberField(0.6, 0, 1, 'A frame whose decision confidence is under this counts as a hard example.'),
  'dataset.hardExamplesOnFlip': booleanField(true, 'A frame where the (smoothed) label changed from the previous frame counts as a hard example.'),
  'dataset.hardExamplesEverySeconds': numberField(10, 0.1, 86400, 'At most one hard example is kept per this many seconds.'),

  'pipeline.maxFps': numberField(0, 0, 240, 'Upper limit on classified frames per second; 0 means as fast as possible.'),
  'pipeline.batchSize': integerField(4, 1, 32, 'Most frames classified in one inference when the source waits for the pipeline (a file with file.realtime=false): a batch shares one pass over the weights, so each frame costs less. Cameras always classify the newest frame alone.'),
  'pipeline.workers': autoOrIntegerField(
    1,
    64,
    'Inference workers for models on TF.js: each a thread with its own WASM backend and copy of the model, classifying a frame of its own (the newest when it becomes free; results still go out in capture order). 1: inference on the main thread. auto: one per core left after capture and the server (cores - 1), but 1 for a model whose inference takes under 4 ms (the hand-off costs more than it saves; the default model), when the copies of the model would take more than half the memory available, and on OpenCV DNN or tfjs-node, which already use every core through their own thread pools. Whatever the setting, a model whose workers\' copies would not fit under the memory limit (MemoryMax) stays on the main thread, and the log says so.',
  ),
  'pipeline.reportEverySeconds': numberField(10, 0, 3600, 'How often `run` logs throughput and the current decision; 0 turns it off.'),

  'events.enabled': booleanField(true, 'Cut events from the smoothed decisions (a label of interest held for events.minSeconds) and keep them with snapshots in the events directory (`run` only).'),
  'events.labels': stringField('', 'Comma-separated labels of interest; empty: every label except uncertain.'),
  'events.minSeconds': numberField(1, 0, 3600, 'How long a label must hold before an event starts (the event then dates from the first frame of the run).'),
  'events.cooldownSeconds': numberField(5, 0, 86400, 'After an event of a label ends, no new event of that label starts for this long (stops flapping).'),
  'events.dir': stringField('', 'Where events and their snapshots are kept; must exist when set. Empty: events/ in the state directory.'),
  'events.snapshots': booleanField(true, 'Save the raw and the annotated best frame of each event as JPEG.'),
  'events.jpegQuality': integerField(90, 10, 100, 'JPEG quality of event snapshots.'),
  'events.clips': booleanField(false, 'Also save a clip of each event (annotated MJPEG in AVI: VLC and ffmpeg play it, the dashboard plays it in the page). Keeps the stream encoding JPEGs (at most stream.maxFps) while nobody watches.'),
  'events.preSeconds': numberField(3, 0, 30, 'Clip seconds before the event starts.'),
  'events.postSeconds': numberField(3, 0, 60, 'Clip seconds after the event ends.'),
  'events.clipFps': integerField(10, 1, 30, 'Frames per second kept for clips.'),
  'events.clipMaxSeconds': numberField(60, 1, 600, 'Longest stretch of an event that goes into its clip (with pre- and post-seconds around it).'),
  'events.retentionDays': numberField(7, 0.001, 3650, 'Events older than this are deleted (checked every minute and after each event).'),
  'events.maxStorageMB': numberField(500, 1, 1_000_000, 'Most disk space events may take; the oldest are deleted first beyond it.'),

  'mqtt.enabled': booleanField(false, 'Publish state and events to an MQTT broker and take commands from it.'),
  'mqtt.url': stringField('mqtt://127.0.0.1:1883', 'Broker address: mqtt://host:port, or mqtts://host:port for TLS.'),
  'mqtt.username': stringField('', 'Broker user name; empty: none.'),
  'mqtt.password': secretField('Broker password; prefer the EDGESIGHT_MQTT_PASSWORD variable to a file.'),
  'mqtt.caFile': stringField('', 'PEM file of the CA that signed the broker certificate (mqtts://); empty: the system CAs.'),
  'mqtt.rejectUnauthorized': booleanField(true, 'Refuse a broker whose TLS certificate does not verify.'),
  'mqtt.topicPrefix': stringField('edgesight', 'First level of every topic: PREFIX/DEVICE/state, .../event/start, .../availability, .../set/...'),
  'mqtt.deviceId': stringField('', 'Second topic level and the Home Assistant device id (letters, digits, _ and -); empty: the host name.'),
  'mqtt.discovery': booleanField(true, 'Publish Home Assistant discovery configs (retained); false removes ones published before.'),
  'mqtt.discoveryPrefix': stringField('homeassistant', 'Home Assistant discovery prefix.'),
  'mqtt.stateEverySeconds': numberField(1, 0.1, 3600, 'The retained state topic is published when the label changes, else at most this often.'),
  'mqtt.snapshots': booleanField(true, 'Publish each event snapshot (JPEG bytes) on PREFIX/DEVICE/snapshot (retained).'),
  'mqtt.queueSize': integerField(100, 1, 10000, 'Event messages kept while the broker is away (oldest dropped and counted).'),

  'webhooks.urls': stringField('', 'Comma-separated http(s) URLs that receive a POST of each event record on start and end.'),
  'webhooks.secret': secretField('Key of the X-Edgesight-Signature header (sha256=HMAC-SHA256 of the body, hex); prefer EDGESIGHT_WEBHOOKS_SECRET. Empty: unsigned.'),
  'webhooks.snapshot': booleanField(false, 'Add the annotated snapshot (base64 JPEG) to end-of-event posts.'),
  'webhooks.timeoutSeconds': numberField(5, 0.1, 300, 'Time allowed for one delivery attempt.'),
  'webhooks.retries': integerField(3, 0, 20, 'Attempts after the first failed one, with backoff doubling from 1 s.'),
  'webhooks.queueSize': integerField(50, 1, 10000, 'Posts waiting per target (oldest dropped and counted).'),

  'log.level': enumField('info', ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const, 'Log level.'),
  'log.format': enumField('auto', ['auto', 'json', 'pretty'] as const, 'Log lines as JSON (for tools) or readable text; auto: readable when stderr is a terminal or journald (under systemd), JSON otherwise. Under journald every line carries its priority either way, so `journalctl -p warning` filters by level.'),
} satisfies Record<string, Field<unknown>>;

export type ConfigSchema = typeof configSchema;
export type ConfigKey = keyof ConfigSchema;
type FieldValue<F> = F extends Field<infer T> ? T : never;
/** The resolved configuration: every key present with its checked value. */
export type Config = { readonly [K in ConfigKey]: FieldValue<ConfigSchema[K]> };

export const configKeys = Object.keys(configSchema) as ConfigKey[];

/** EDGESIGHT_ + the dotted key in upper snake case: decision.topK -> EDGESIGHT_DECISION_TOP_K. */
export function envNameFor(key: ConfigKey): string {
  return 'EDGESIGHT_' + key.replace(/([a-z0-9])([A-Z])/g, '$1_$2').replace(/\./g, '_').toUpperCase();
}

export function defaultConfig(): Config {
  const out: Record<string, unknown> = {};
  for (const key of configKeys) out[key] = configSchema[key].default;
  return out as Config;
}
