/**
 * Motion-JPEG in an AVI (RIFF) container, written from JPEGs already encoded: no re-encoding.
 * VLC, ffmpeg and OpenCV play it; browsers do not play AVI, so the dashboard plays a clip as a
 * multipart/x-mixed-replace stream of the same JPEGs (see readMjpegAvi and the clip route).
 * Layout: RIFF 'AVI ' { LIST 'hdrl' { avih, LIST 'strl' { strh, strf } }, LIST 'movi' { '00dc'... }, idx1 }.
 */
export function mjpegAviChunks(frames: readonly Buffer[], width: number, height: number, fps: number): Buffer[] {
  const usPerFrame = Math.round(1_000_000 / fps);
  const maxFrame = frames.reduce((m, f) => Math.max(m, f.length), 0);
  const u32 = (n: number) => {
    const b = Buffer.alloc(4);
    b.writeUInt32LE(n >>> 0);
    return b;
  };
  const fourcc = (s: string) => Buffer.from(s, 'ascii');
  const chunk = (id: string, data: Buffer) => Buffer.concat([fourcc(id), u32(data.length), data, data.length % 2 ? Buffer.alloc(1) : Buffer.alloc(0)]);

  const avih = Buffer.alloc(56);
  avih.writeUInt32LE(usPerFrame, 0); // microseconds per frame
  avih.writeUInt32LE(maxFrame * fps, 4); // max bytes per second
  avih.writeUInt32LE(0x10, 12); // AVIF_HASINDEX
  avih.writeUInt32LE(frames.length, 16); // total frames
  avih.writeUInt32LE(1, 24); // streams
  avih.writeUInt32LE(maxFrame, 28); // suggested buffer size
  avih.writeUInt32LE(width, 32);
  avih.writeUInt32LE(height, 36);

  const strh = Buffer.alloc(56);
  fourcc('vids').copy(strh, 0);
  fourcc('MJPG').copy(strh, 4);
  strh.writeUInt32LE(1, 20); // scale
  strh.writeUInt32LE(fps, 24); // rate: fps = rate / scale
  strh.writeUInt32LE(frames.length, 32); // length in frames
  strh.writeUInt32LE(maxFrame, 36);
  strh.writeInt32LE(-1, 40); // quality: default
  strh.writeUInt16LE(width, 52);
  strh.writeUInt16LE(height, 54);

  const strf = Buffer.alloc(40); // BITMAPINFOHEADER
  strf.writeUInt32LE(40, 0);
  strf.writeInt32LE(width, 4);
  strf.writeInt32LE(height, 8);
  strf.writeUInt16LE(1, 12); // planes
  strf.writeUInt16LE(24, 14); // bit count
  fourcc('MJPG').copy(strf, 16);
  strf.writeUInt32LE(width * height * 3, 20);

  const list = (type: string, parts: Buffer[]) => {
    const body = Buffer.concat([fourcc(type), ...parts]);
    return Buffer.concat([fourcc('LIST'), u32(body.length), body]);
  };
  const hdrl = list('hdrl', [chunk('avih', avih), list('strl', [chunk('strh', strh), chunk('strf', strf)])]);

  // movi: one '00dc' chunk per frame (written as separate buffers: no copy of the JPEGs).
  const movi: Buffer[] = [];
  const index = Buffer.alloc(16 * frames.length);
  let offset = 4; // from the 'movi' fourcc
  let moviSize = 4;
  frames.forEach((f, i) => {
    const pad = f.length % 2;
    movi.push(Buffer.concat([fourcc('00dc'), u32(f.length)]), f);
    if (pad) movi.push(Buffer.alloc(1));
    fourcc('00dc').copy(index, i * 16);
    index.writeUInt32LE(0x10, i * 16 + 4); // AVIIF_KEYFRAME
    index.writeUInt32LE(offset, i * 16 + 8);
    index.writeUInt32LE(f.length, i * 16 + 12);
    offset += 8 + f.length + pad;
    moviSize += 8 + f.length + pad;
  });
  const moviHeader = Buffer.concat([fourcc('LIST'), u32(moviSize), fourcc('movi')]);
  const idx1 = Buffer.concat([fourcc('idx1'), u32(index.length), index]);
  const riffSize = 4 + hdrl.length + moviHeader.length + (moviSize - 4) + idx1.length;
  return [Buffer.concat([fourcc('RIFF'), u32(riffSize), fourcc('AVI '), hdrl, moviHeader]), ...movi, idx1];
}

/** The JPEG frames and frame rate of an AVI written by mjpegAviChunks (walks the movi list). */
export function readMjpegAvi(file: Buffer): { fps: number; frames: Buffer[] } {
  if (file.length < 12 || file.toString('ascii', 0, 4) !== 'RIFF' || file.toString('ascii', 8, 12) !== 'AVI ') throw new Error('not an AVI file');
  let fps = 10;
  const frames: Buffer[] = [];
  const walk = (start: number, end: number) => {
    let p = start;
    while (p + 8 <= end) {
      const id = file.toString('ascii', p, p + 4);
      const size = file.readUInt32LE(p + 4);
      const body = p + 8;
      if (body + size > file.length) break;
      if (id === 'LIST') walk(body + 4, body + size);
      else if (id === 'strh' && file.toString('ascii', body, body + 4) === 'vids') {
        const scale = file.readUInt32LE(body + 20) || 1;
        fps = file.readUInt32LE(body + 24) / scale || fps;
      } else if (id === '00dc') frames.push(file.subarray(body, body + size));
      p = body + size + (size % 2);
    }
  };
  walk(12, file.length);
  return { fps, frames };
}
