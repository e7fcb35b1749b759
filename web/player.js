// hls.js players: one helper that creates a player, turns fatal errors into words
// (with the server's JSON message when there is one), and records them for the
// browser tests in window.hlsdDebug.

window.hlsdDebug = window.hlsdDebug || { fatalErrors: [], errors: [], players: {} };

const LIVE_CONFIG = {
  // Grid tiles: plain HLS, no blocking playlist reloads, so a handful of tiles
  // do not take all six HTTP/1.1 connections a browser opens per host.
  lowLatencyMode: false,
  backBufferLength: 10,
  maxBufferLength: 10,
  liveDurationInfinity: true,
  // An on-demand port answers its first playlist request once the first
  // segment exists, which can take a while.
  manifestLoadPolicy: {
    default: {
      maxTimeToFirstByteMs: 30000,
      maxLoadTimeMs: 40000,
      timeoutRetry: { maxNumRetry: 2, retryDelayMs: 0, maxRetryDelayMs: 0 },
      errorRetry: { maxNumRetry: 2, retryDelayMs: 1000, maxRetryDelayMs: 4000 },
    },
  },
};

const VOD_CONFIG = {
  lowLatencyMode: false,
  startPosition: 0,
  maxBufferLength: 30,
  backBufferLength: 60,
  // Segments are encoded on demand: the server holds a request until the
  // segment exists (up to its ready_timeout, 30 s by default), so wait for it
  // rather than abort and re-request.
  fragLoadPolicy: {
    default: {
      maxTimeToFirstByteMs: 40000,
      maxLoadTimeMs: 120000,
      timeoutRetry: { maxNumRetry: 2, retryDelayMs: 0, maxRetryDelayMs: 0 },
      errorRetry: { maxNumRetry: 3, retryDelayMs: 1000, maxRetryDelayMs: 8000 },
    },
  },
};

// The server's {"success":false,"message":...} body of a failed request, if any.
function serverMessage(data) {
  const xhr = data.networkDetails;
  if (!xhr || typeof xhr !== 'object' || !('status' in xhr)) return '';
  let text = '';
  try {
    if (xhr.responseType === '' || xhr.responseType === 'text') text = xhr.responseText;
    else if (xhr.response instanceof ArrayBuffer) text = new TextDecoder().decode(xhr.response);
  } catch { text = ''; }
  if (!text || text.length > 4096) return '';
  try {
    const j = JSON.parse(text);
    return typeof j.message === 'string' ? j.message : '';
  } catch { return ''; }
}

export function describeHlsError(data) {
  const what = {
    manifestLoadError: 'the playlist could not be loaded',
    manifestLoadTimeOut: 'the playlist did not arrive in time',
    manifestParsingError: 'the playlist is not valid',
    levelLoadError: 'the playlist could not be reloaded',
    levelLoadTimeOut: 'the playlist reload timed out',
    levelEmptyError: 'the playlist has no segments',
    fragLoadError: 'a segment could not be loaded',
    fragLoadTimeOut: 'a segment did not arrive in time',
    fragParsingError: 'a segment could not be parsed',
    bufferAppendError: 'the browser refused the media',
    bufferStalledError: 'playback stalled',
    manifestIncompatibleCodecsError: 'the browser cannot play these codecs',
  }[data.details] || data.details || 'unknown error';
  const code = data.response && data.response.code;
  const msg = serverMessage(data);
  let s = what;
  if (code) s += ` (HTTP ${code}${msg ? `: ${msg}` : ''})`;
  else if (msg) s += `: ${msg}`;
  else if (data.error && data.error.message && !s.includes(data.error.message)) s += `: ${data.error.message}`;
  return s;
}

// Creates a player on `video` for `url`. opts: {label, live, lowLatency,
// onFatal(message, data), onError(message, data) for non-fatal ones, events: {name: fn}}.
// Returns {hls, destroy()}.
export function createPlayer(video, url, opts) {
  const Hls = window.Hls;
  const label = opts.label || url;
  const dbg = window.hlsdDebug;
  if (!Hls) {
    opts.onFatal('the video player (hls.js) did not load: /web/vendor/hls.min.js is missing', {});
    return { hls: null, destroy() {} };
  }
  if (!Hls.isSupported()) {
    if (video.canPlayType('application/vnd.apple.mpegurl')) {
      video.src = url; // Safari plays HLS natively
      return { hls: null, destroy() { video.removeAttribute('src'); video.load(); } };
    }
    opts.onFatal('this browser cannot play HLS (no Media Source Extensions)', {});
    return { hls: null, destroy() {} };
  }
  const config = Object.assign({}, opts.live ? LIVE_CONFIG : VOD_CONFIG, opts.config || {});
  if (opts.lowLatency) config.lowLatencyMode = true;
  const hls = new Hls(config);
  let mediaRecoveries = 0;
  hls.on(Hls.Events.ERROR, (_ev, data) => {
    const message = describeHlsError(data);
    const entry = { label, url, fatal: !!data.fatal, type: data.type, details: data.details,
      status: data.response && data.response.code, message, at: Date.now() };
    if (!data.fatal) {
      dbg.errors.push(entry);
      if (dbg.errors.length > 200) dbg.errors.shift();
      if (opts.onError) opts.onError(message, data);
      return;
    }
    // A decoder hiccup is recoverable once or twice without a new player.
    if (data.type === Hls.ErrorTypes.MEDIA_ERROR && mediaRecoveries < 2) {
      mediaRecoveries += 1;
      dbg.errors.push(Object.assign(entry, { recovered: true }));
      hls.recoverMediaError();
      return;
    }
    dbg.fatalErrors.push(entry);
    opts.onFatal(message, data);
  });
  for (const [name, fn] of Object.entries(opts.events || {})) hls.on(Hls.Events[name], fn);
  hls.on(Hls.Events.MANIFEST_PARSED, () => {
    const p = video.play();
    if (p && p.catch) {
      p.catch((e) => {
        // Autoplay refused (not muted, or a policy): the controls let the user start it.
        if (e.name !== 'AbortError' && opts.onError) opts.onError(`autoplay was blocked: ${e.message}`, {});
      });
    }
  });
  hls.loadSource(url);
  hls.attachMedia(video);
  dbg.players[label] = hls;
  return {
    hls,
    destroy() {
      if (dbg.players[label] === hls) delete dbg.players[label];
      hls.destroy();
      video.removeAttribute('src');
      video.load();
    },
  };
}

// Seconds behind live from EXT-X-PROGRAM-DATE-TIME; null when unknown.
export function latencySeconds(player) {
  const d = player && player.hls && player.hls.playingDate;
  if (!d) return null;
  return (Date.now() - d.getTime()) / 1000;
}
