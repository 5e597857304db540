/*! siyu.js: Siyu's browser tracking SDK. Dependency-free ES5; the API and events are in docs/tracking.md. */
(function (window, document) {
  "use strict";
  var VERSION = "1.0.0";
  var stub = window.siyu;
  if (stub && stub.initialized) { return; }

  var AID = "siyu_aid", UID = "siyu_uid", YEAR_MS = 365 * 864e5;
  var MAX_QUEUE = 1000, MAX_EVENT = 32 * 1024, MAX_BATCH = 100, MAX_BATCH_BYTES = 450 * 1024;
  var MAX_BEACON = 60000, MAX_BACKOFF = 60000;
  var ILLEGAL = ["undefined", "null", "none", "nil", "anonymous", "[object object]", "0", "-1", "nan", "true", "false"];
  var UTM = { utm_source: "source", utm_medium: "medium", utm_campaign: "name", utm_term: "term",
    utm_content: "content", channel: "channel" };

  var me = document.currentScript;
  var scriptSrc = me && me.src;
  var store = localStore();
  var s = { // state
    key: "", host: "", qkey: "", opts: {}, instance: uuid(), early: [], mem: [], inflight: {},
    timer: null, sending: false, failures: 0, retryAt: 0, warned: {}, autoPage: false, readyFns: []
  };
  var view = null; // the current page view and its engagement
  s.aid = cleanId(recall(AID), 100) || uuid();
  s.uid = cleanId(recall(UID), 200);
  remember(AID, s.aid);

  // Helpers --------------------------------------------------------------------------------------
  function now() { return new Date().getTime(); }
  function iso() { return new Date().toISOString(); }
  function noop() {}
  function extend(target) {
    for (var i = 1; i < arguments.length; i++) {
      var source = arguments[i];
      if (source && typeof source === "object") {
        for (var k in source) { if (Object.prototype.hasOwnProperty.call(source, k)) { target[k] = source[k]; } }
      }
    }
    return target;
  }
  function warn(kind, text) {
    if (!s.warned[kind] && window.console && window.console.warn) { s.warned[kind] = 1; window.console.warn("siyu: " + text); }
  }
  function uuid() {
    var c = window.crypto || window.msCrypto, b = [], h = [], i;
    if (c && c.getRandomValues) { b = c.getRandomValues(new Uint8Array(16)); }
    else { for (i = 0; i < 16; i++) { b[i] = Math.floor(Math.random() * 256); } }
    b[6] = (b[6] & 15) | 64; b[8] = (b[8] & 63) | 128;
    for (i = 0; i < 16; i++) { h.push((b[i] + 256).toString(16).slice(1)); if (i === 3 || i === 5 || i === 7 || i === 9) { h.push("-"); } }
    return h.join("");
  }
  // A usable id: a non-empty string or number that is not a placeholder such as "undefined" or "null".
  function cleanId(raw, limit) {
    if (typeof raw === "number" && isFinite(raw)) { raw = String(raw); }
    if (typeof raw !== "string") { return ""; }
    var v = raw.replace(/^\s+|\s+$/g, ""), low = v.toLowerCase();
    for (var i = 0; i < ILLEGAL.length; i++) { if (low === ILLEGAL[i]) { return ""; } }
    return v && v.length <= limit && low.indexOf("[object ") !== 0 ? v : "";
  }
  function bytes(text) {
    var n = text.length;
    for (var i = 0; i < text.length; i++) { var c = text.charCodeAt(i); if (c > 127) { n += c > 2047 ? 2 : 1; } }
    return n;
  }

  // Storage: localStorage with a first-party cookie for the ids; memory when storage is refused.
  function localStore() {
    try { var ls = window.localStorage, t = "siyu_t"; ls.setItem(t, t); ls.removeItem(t); return ls; } catch (e) { return null; }
  }
  function cookie(name, value) {
    if (value === undefined) {
      var m = document.cookie.match(new RegExp("(?:^|; )" + name + "=([^;]*)"));
      try { return m ? decodeURIComponent(m[1]) : null; } catch (e) { return null; }
    }
    var expires = new Date(now() + (value ? YEAR_MS : -YEAR_MS)).toUTCString();
    try {
      document.cookie = name + "=" + encodeURIComponent(value) + "; path=/; expires=" + expires + "; SameSite=Lax" +
        (window.location.protocol === "https:" ? "; Secure" : "");
    } catch (e) { /* cookies disabled */ }
    return null;
  }
  function recall(name) {
    var v = null;
    try { v = store && store.getItem(name); } catch (e) { /* unavailable */ }
    return v || cookie(name);
  }
  function remember(name, value) {
    try { if (store) { if (value) { store.setItem(name, value); } else { store.removeItem(name); } } } catch (e) { /* full */ }
    cookie(name, value || "");
  }

  // The queue: [{m: message, b: instance that sent it by beacon}], kept in localStorage per write key.
  function readQueue() {
    if (!store) { return s.mem; }
    try { return JSON.parse(store.getItem(s.qkey) || "[]") || []; } catch (e) { return []; }
  }
  function writeQueue(q) {
    if (q.length > MAX_QUEUE) { q.splice(0, q.length - MAX_QUEUE); }
    if (!store) { s.mem = q; return; }
    while (true) {
      try { store.setItem(s.qkey, JSON.stringify(q)); return; } catch (e) {
        if (!q.length) { return; }
        q.splice(0, Math.ceil(q.length / 2)); // storage full: the oldest half goes
      }
    }
  }
  function drop(items) {
    var gone = {}, i, q = readQueue(), kept = [];
    for (i = 0; i < items.length; i++) { gone[items[i].m.messageId] = 1; }
    for (i = 0; i < q.length; i++) { if (!gone[q[i].m.messageId]) { kept.push(q[i]); } }
    writeQueue(kept);
  }
  // Messages sent by beacon stay queued, marked: this page does not send them again, the next page
  // load does (the server keeps a messageId once), so a beacon the server never got loses nothing.
  function markBeaconed(items) {
    var sent = {}, i, q = readQueue();
    for (i = 0; i < items.length; i++) { sent[items[i].m.messageId] = 1; }
    for (i = 0; i < q.length; i++) { if (sent[q[i].m.messageId]) { q[i].b = s.instance; } }
    writeQueue(q);
  }
  function pending() {
    var q = readQueue(), out = [];
    for (var i = 0; i < q.length; i++) { if (q[i].b !== s.instance && !s.inflight[q[i].m.messageId]) { out.push(q[i]); } }
    return out;
  }
  function take(items, budget, count) {
    var out = [], size = 100;
    for (var i = 0; i < items.length && out.length < count; i++) {
      var n = bytes(JSON.stringify(items[i].m)) + 1;
      if (size + n > budget) { break; }
      out.push(items[i]); size += n;
    }
    return out;
  }
  function body(items) {
    var batch = [];
    for (var i = 0; i < items.length; i++) { batch.push(items[i].m); }
    return JSON.stringify({ batch: batch, sentAt: iso(), writeKey: s.key });
  }

  // Delivery ---------------------------------------------------------------------------------------
  function enqueue(message) {
    var size;
    try { size = bytes(JSON.stringify(message)); } catch (e) { warn("json", "an event that cannot be turned into JSON was dropped."); return; }
    if (size > MAX_EVENT) { warn("size", "an event larger than 32 KB was dropped (" + (message.event || message.type) + ")."); return; }
    var q = readQueue();
    q.push({ m: message });
    writeQueue(q);
    if (pending().length >= s.opts.flushAt && now() >= s.retryAt) { flush(); } else { schedule(); }
  }
  function schedule() {
    if (s.timer || !s.key || s.sending || !pending().length) { return; }
    var wait = Math.max(s.opts.flushInterval, s.retryAt - now());
    s.timer = setTimeout(function () { s.timer = null; flush(); }, wait);
  }
  function backoff(failures) {
    var d = Math.min(MAX_BACKOFF, 1000 * Math.pow(2, failures - 1));
    return d / 2 + Math.random() * d / 2;
  }
  function flush() {
    if (s.timer) { clearTimeout(s.timer); s.timer = null; }
    if (!s.key || s.sending) { return; }
    if (now() < s.retryAt) { schedule(); return; }
    var items = take(pending(), MAX_BATCH_BYTES, MAX_BATCH), i;
    if (!items.length) { return; }
    s.sending = true;
    for (i = 0; i < items.length; i++) { s.inflight[items[i].m.messageId] = 1; }
    post(body(items), function (status) {
      s.sending = false;
      for (i = 0; i < items.length; i++) { delete s.inflight[items[i].m.messageId]; }
      if (status >= 200 && status < 300) {
        s.failures = 0; s.retryAt = 0; drop(items);
      } else if (!status || status === 429 || status >= 500) {
        s.failures += 1; s.retryAt = now() + backoff(s.failures);
        if (!status) { warn("net", "could not reach " + s.host + " (offline, or this site's origin is not allowed for the write key); retrying."); }
      } else {
        drop(items);
        warn("http" + status, "the server refused " + items.length + " event(s) with HTTP " + status + "; they were dropped. Check the write key and the events.");
      }
      if (pending().length >= s.opts.flushAt && now() >= s.retryAt) { flush(); } else { schedule(); }
    });
  }
  function post(text, done) {
    var x, finished = false;
    function finish(status) { if (!finished) { finished = true; done(status); } }
    try {
      x = new XMLHttpRequest();
      x.open("POST", s.host + "/v1/batch", true);
      x.setRequestHeader("Content-Type", "text/plain");
      x.timeout = 15000;
      x.onreadystatechange = function () { if (x.readyState === 4) { finish(x.status); } };
      x.ontimeout = x.onerror = function () { finish(0); };
      x.send(text);
    } catch (e) { finish(0); }
  }
  // Leaving: hand what is queued to the browser, which sends it even after the page is gone.
  function beacon() {
    if (!s.key) { return; }
    var all = readQueue(), mine = [], i, url = s.host + "/v1/batch";
    for (i = 0; i < all.length; i++) { if (all[i].b !== s.instance) { mine.push(all[i]); } }
    var items = take(mine, MAX_BEACON, MAX_QUEUE);
    if (!items.length) { return; }
    var text = body(items), sent = false;
    try { sent = !!(window.navigator.sendBeacon && window.navigator.sendBeacon(url, text)); } catch (e) { sent = false; }
    if (!sent && window.fetch) {
      try {
        window.fetch(url, { method: "POST", body: text, keepalive: true, credentials: "omit", headers: { "Content-Type": "text/plain" } })
          .then(function (r) { if (r.ok) { drop(items); } }, noop);
        sent = true;
      } catch (e) { sent = false; }
    }
    if (sent) { markBeaconed(items); }
  }

  // Messages ---------------------------------------------------------------------------------------
  function query() {
    var out = {}, parts = window.location.search.replace(/^\?/, "").split("&");
    for (var i = 0; i < parts.length; i++) {
      if (!parts[i]) { continue; }
      var kv = parts[i].split("="), k, v;
      try { k = decodeURIComponent(kv[0].replace(/\+/g, " ")); v = decodeURIComponent(kv.slice(1).join("=").replace(/\+/g, " ")); } catch (e) { continue; }
      if (!(k in out)) { out[k] = v; }
    }
    return out;
  }
  function pageInfo() {
    var l = window.location;
    return { url: l.href.split("#")[0], path: l.pathname, title: document.title,
      referrer: view ? view.referrer : document.referrer, search: l.search };
  }
  function context() {
    var q = query(), campaign = {}, found = false, scr = window.screen || {}, nav = window.navigator;
    for (var k in UTM) { if (q[k]) { campaign[UTM[k]] = q[k]; found = true; } }
    var ctx = { page: pageInfo(), library: { name: "siyu.js", version: VERSION },
      locale: nav.language || nav.userLanguage || "", userAgent: nav.userAgent,
      screen: { width: scr.width, height: scr.height } };
    if (found) { ctx.campaign = campaign; }
    return ctx;
  }
  function send(type, fields) {
    var t = iso(), m = { type: type, messageId: uuid(), anonymousId: s.aid, timestamp: t, originalTimestamp: t, context: context() };
    if (s.uid) { m.userId = s.uid; }
    enqueue(extend(m, fields));
  }

  // Page views and engagement ----------------------------------------------------------------------
  function visible() { var v = document.visibilityState; return !v || v === "visible"; }
  function active() { return Math.round(view.active + (view.since ? now() - view.since : 0)); }
  function scrollDepth() {
    if (!view || document.readyState !== "complete" && !view.scrolled) { return; }
    var d = document.documentElement, b = document.body || {};
    var height = Math.max(d.scrollHeight || 0, b.scrollHeight || 0), seen = window.innerHeight || d.clientHeight || 0;
    var top = window.pageYOffset || d.scrollTop || b.scrollTop || 0;
    var depth = height <= seen ? 100 : Math.round(Math.min(100, (top + seen) * 100 / height));
    if (depth > view.depth) { view.depth = depth; }
  }
  function engagement(name) {
    scrollDepth();
    var a = active(), p = { view_id: view.id, url: view.url, path: view.path, title: view.title,
      active_dwell_ms: a, dwell_delta_ms: a - view.reported, scroll_depth: view.depth };
    view.reported = a;
    send("track", { event: name, properties: extend(p, view.extra) });
  }
  function pause() { if (view && view.since) { view.active += now() - view.since; view.since = 0; } }
  function resume() { if (view) { view.left = false; if (!view.since && visible()) { view.since = now(); } } }
  function leave() {
    if (view) { pause(); if (!view.left) { view.left = true; engagement("Page Left"); } }
    beacon();
  }
  function tick() {
    if (!view || !view.since) { return; }
    var a = active(), beat = s.opts.heartbeatSeconds * 1000;
    if (a >= view.nextBeat) { view.nextBeat = (Math.floor(a / beat) + 1) * beat; engagement("Page Engaged"); }
  }
  function startView(name, properties) {
    var previous = view;
    if (previous && !previous.left && active() > previous.reported) { pause(); engagement("Page Left"); }
    var info = pageInfo(), extra = extend({}, s.opts.pageProperties), props = properties || {};
    if (previous) { info.referrer = previous.url; }
    if ("content_id" in props) { extra.content_id = props.content_id; }
    if ("share_token" in props) { extra.share_token = props.share_token; }
    view = { id: uuid(), url: info.url, path: info.path, title: info.title, referrer: info.referrer, extra: extra,
      active: 0, since: visible() ? now() : 0, reported: 0, depth: 0, left: false, scrolled: false,
      nextBeat: s.opts.heartbeatSeconds * 1000 };
    scrollDepth();
    var fields = { properties: extend(info, s.opts.pageProperties, props, { view_id: view.id }) };
    if (name) { fields.name = name; fields.properties.name = name; }
    send("page", fields);
  }
  function listen() {
    var add = function (target, type, fn) { if (target.addEventListener) { target.addEventListener(type, fn, { passive: true }); } };
    add(document, "visibilitychange", function () { if (visible()) { resume(); } else if (document.visibilityState === "hidden") { leave(); } });
    add(window, "pagehide", leave);
    add(window, "pageshow", function (e) { if (e.persisted) { resume(); } });
    add(window, "scroll", function () { if (view) { view.scrolled = true; scrollDepth(); } });
    add(window, "load", scrollDepth);
    add(window, "online", function () { s.retryAt = 0; flush(); });
    setInterval(tick, Math.max(100, Math.min(1000, s.opts.heartbeatSeconds * 200)));
  }
  function scriptHost() {
    var src = scriptSrc, all = document.getElementsByTagName("script");
    for (var i = all.length - 1; !src && i >= 0; i--) { if (/\/sdk\/siyu\.js(\?|$)/.test(all[i].src)) { src = all[i].src; } }
    var m = src && /^(https?:\/\/[^\/?#]+)/i.exec(src);
    return m ? m[1] : window.location.protocol + "//" + window.location.host;
  }

  // The API ----------------------------------------------------------------------------------------
  var api = stub && typeof stub === "object" ? stub : {};
  var queued = stub && stub.length ? Array.prototype.slice.call(stub, 0) : [];
  if (stub && stub.length) { stub.length = 0; }
  function method(name, fn) {
    api[name] = function () {
      var args = Array.prototype.slice.call(arguments);
      if (!s.key && name !== "load" && name !== "user" && name !== "ready") { s.early.push([name, args]); return api; }
      var out = fn.apply(api, args);
      return out === undefined ? api : out;
    };
  }
  method("load", function (writeKey, options) {
    if (s.key) { return; }
    if (typeof writeKey !== "string" || !writeKey) { warn("key", "load() needs the source's write key."); return; }
    s.opts = extend({ host: scriptHost(), autoPage: true, heartbeatSeconds: 15, flushInterval: 1000, flushAt: 20, pageProperties: {} }, options);
    s.opts.heartbeatSeconds = Math.max(1, +s.opts.heartbeatSeconds || 15);
    s.opts.flushInterval = Math.max(0, +s.opts.flushInterval || 0);
    s.opts.flushAt = Math.max(1, +s.opts.flushAt || 20);
    s.key = writeKey;
    s.host = String(s.opts.host).replace(/\/+$/, "");
    s.qkey = "siyu_q_" + writeKey;
    listen();
    // The automatic page view, unless page() is called right after load() (as the snippet may).
    s.autoPage = s.opts.autoPage !== false;
    setTimeout(function () { if (s.autoPage) { api.page(); } }, 0);
    var early = s.early;
    s.early = [];
    for (var i = 0; i < early.length; i++) { api[early[i][0]].apply(api, early[i][1]); }
    for (i = 0; i < s.readyFns.length; i++) { s.readyFns[i].call(api); }
    s.readyFns = [];
    schedule(); // what earlier pages left in the queue
  });
  method("page", function (name, properties) {
    if (name && typeof name === "object") { properties = name; name = null; }
    s.autoPage = false;
    startView(typeof name === "string" ? name : "", properties);
  });
  method("track", function (event, properties) {
    if (typeof event !== "string" || !event) { warn("event", "track() needs an event name."); return; }
    send("track", { event: event, properties: properties || {} });
  });
  method("identify", function (userId, traits) {
    if (userId && typeof userId === "object") { traits = userId; userId = null; }
    if (userId !== null && userId !== undefined) {
      var id = cleanId(userId, 200);
      if (!id) { warn("uid", "identify() ignored an illegal userId: " + String(userId)); return; }
      s.uid = id;
      remember(UID, id);
    }
    send("identify", { traits: traits || {} });
  });
  method("alias", function (userId, previousId) {
    var to = cleanId(userId, 200), from = previousId === undefined || previousId === null ? s.uid || s.aid : cleanId(previousId, 200);
    if (!to || !from) { warn("alias", "alias() ignored an illegal id."); return; }
    send("alias", { userId: to, previousId: from });
  });
  method("reset", function () {
    s.uid = "";
    remember(UID, "");
    s.aid = uuid();
    remember(AID, s.aid);
  });
  method("user", function () { return { anonymousId: s.aid, userId: s.uid || null }; });
  method("ready", function (fn) { if (typeof fn === "function") { if (s.key) { fn.call(api); } else { s.readyFns.push(fn); } } });
  method("flush", function () { flush(); });
  api.VERSION = VERSION;
  api.initialized = true;
  window.siyu = api;

  // Replay the calls the snippet queued: load first, then the rest in order.
  for (var i = 0; i < queued.length; i++) { if (queued[i][0] === "load") { api.load.apply(api, queued[i].slice(1)); break; } }
  for (i = 0; i < queued.length; i++) { if (queued[i][0] !== "load" && api[queued[i][0]]) { api[queued[i][0]].apply(api, queued[i].slice(1)); } }
})(window, document);
