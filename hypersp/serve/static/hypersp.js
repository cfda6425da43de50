// hypersp demo page: live microphone recognition (online apps) or file upload (offline apps).
// Every URL is relative to the page, so the page works under any host name, port and prefix.
(function () {
  "use strict";
  const S = window.HYPERSP;
  const $ = (id) => document.getElementById(id);
  const state = (window.hyperspState = { finals: [], partial: "", errors: [], sent: 0, open: false });

  // ---- downsampling: box low-pass + linear interpolation, streaming (keeps its phase across calls) ----
  class Downsampler {
    constructor(inRate, outRate) {
      this.ratio = inRate / outRate;
      this.pos = 0; // position of the next output sample, in input samples, relative to buf start
      this.buf = new Float32Array(0);
      this.taps = Math.max(1, Math.round(this.ratio));
    }
    push(x) {
      const buf = new Float32Array(this.buf.length + x.length);
      buf.set(this.buf); buf.set(x, this.buf.length);
      // low-pass: moving average over `taps` samples (kills most energy above the new Nyquist)
      const lp = new Float32Array(buf.length);
      let acc = 0;
      for (let i = 0; i < buf.length; i++) {
        acc += buf[i];
        if (i >= this.taps) acc -= buf[i - this.taps];
        lp[i] = acc / Math.min(i + 1, this.taps);
      }
      const out = [];
      while (this.pos + 1 < buf.length) {
        const i = Math.floor(this.pos), f = this.pos - i;
        out.push(lp[i] * (1 - f) + lp[i + 1] * f);
        this.pos += this.ratio;
      }
      const keep = Math.max(0, Math.floor(this.pos) - this.taps);
      this.buf = buf.slice(keep);
      this.pos -= keep;
      return Float32Array.from(out);
    }
  }

  function toPcm16(x) {
    const out = new Int16Array(x.length);
    for (let i = 0; i < x.length; i++) {
      const v = Math.max(-1, Math.min(1, x[i]));
      out[i] = v < 0 ? v * 32768 : v * 32767;
    }
    return out;
  }

  function wsUrl() {
    const u = new URL("recognize", window.location.href);
    u.protocol = u.protocol === "https:" ? "wss:" : "ws:";
    return u.toString();
  }

  // ---- online ----
  let ws = null, ctx = null, media = null, node = null;
  function render() {
    const finals = $("finals");
    finals.textContent = "";
    for (const t of state.finals) { const d = document.createElement("div"); d.textContent = t; finals.appendChild(d); }
    $("partial").textContent = state.partial;
  }

  async function start() {
    $("start").disabled = true;
    $("status").textContent = "연결 중…";
    try {
      media = await navigator.mediaDevices.getUserMedia({ audio: { channelCount: 1, echoCancellation: true, noiseSuppression: true } });
      ctx = new AudioContext();
      await ctx.audioWorklet.addModule("static/capture-worklet.js");
      const src = ctx.createMediaStreamSource(media);
      node = new AudioWorkletNode(ctx, "hypersp-capture");
      const down = new Downsampler(ctx.sampleRate, S.sample_rate);
      let pending = [], pendingLen = 0;
      const chunk = Math.round(S.sample_rate * 0.1); // send ~100 ms per message
      ws = new WebSocket(wsUrl());
      ws.binaryType = "arraybuffer";
      ws.onopen = () => { state.open = true; $("status").textContent = "듣는 중 (" + S.sample_rate + " Hz)"; $("stop").disabled = false; };
      ws.onmessage = (ev) => {
        const msg = JSON.parse(ev.data);
        if (msg.error) { state.errors.push(msg.error); $("status").textContent = "오류: " + msg.error; return; }
        if (msg.final) { if (msg.text) state.finals.push(msg.text); state.partial = ""; }
        else state.partial = msg.text;
        render();
      };
      ws.onclose = (ev) => { state.open = false; $("status").textContent = "연결 종료" + (ev.reason ? ": " + ev.reason : ""); stopAudio(); $("start").disabled = false; $("stop").disabled = true; };
      node.port.onmessage = (ev) => {
        const y = down.push(ev.data);
        if (y.length) { pending.push(y); pendingLen += y.length; }
        if (pendingLen >= chunk && ws && ws.readyState === WebSocket.OPEN) {
          const all = new Float32Array(pendingLen);
          let o = 0; for (const p of pending) { all.set(p, o); o += p.length; }
          pending = []; pendingLen = 0;
          ws.send(toPcm16(all).buffer);
          state.sent += all.length;
        }
      };
      src.connect(node);
    } catch (err) {
      $("status").textContent = "마이크를 쓸 수 없습니다: " + err;
      state.errors.push(String(err));
      $("start").disabled = false;
    }
  }

  function stopAudio() {
    if (node) { node.port.onmessage = null; node.disconnect(); node = null; }
    if (media) { media.getTracks().forEach((t) => t.stop()); media = null; }
    if (ctx) { ctx.close(); ctx = null; }
  }

  function stop() {
    stopAudio();
    if (ws && ws.readyState === WebSocket.OPEN) {
      ws.send(JSON.stringify({ state: 0, data: [] })); // end of utterance: the server sends the final
      setTimeout(() => ws && ws.close(1000, "stopped"), 1500);
    }
    $("stop").disabled = true;
  }

  // ---- offline ----
  function fmt(t) { const m = Math.floor(t / 60), s = (t % 60).toFixed(2).padStart(5, "0"); return m + ":" + s; }
  function showSegments(segs) {
    const body = $("segments").querySelector("tbody");
    body.textContent = "";
    for (const s of segs) {
      const tr = document.createElement("tr");
      for (const v of [fmt(s.start), fmt(s.end), s.speaker || "", s.text]) { const td = document.createElement("td"); td.textContent = v; tr.appendChild(td); }
      body.appendChild(tr);
    }
  }

  async function upload(ev) {
    ev.preventDefault();
    const f = $("file").files[0];
    if (!f) return;
    const form = new FormData();
    form.append("file", f);
    $("ostatus").textContent = "올리는 중…";
    $("downloads").textContent = "";
    if (S.name === "subtitles") {
      const r = await fetch("jobs", { method: "POST", body: form });
      const j = await r.json();
      if (!r.ok) { $("ostatus").textContent = "오류: " + j.error; return; }
      const bar = $("progress"); bar.hidden = false;
      for (;;) {
        await new Promise((res) => setTimeout(res, 500));
        const st = await (await fetch(j.status_url)).json();
        bar.value = st.progress || 0;
        $("ostatus").textContent = st.status + " " + Math.round(100 * (st.progress || 0)) + "%";
        if (st.status === "error") { $("ostatus").textContent = "오류: " + st.error; return; }
        if (st.status === "done") {
          showSegments(st.segments);
          $("downloads").innerHTML = '<a download href="' + st.srt_url + '">SRT</a> · <a download href="' + st.vtt_url + '">WebVTT</a>';
          return;
        }
      }
    }
    const r = await fetch("recognize", { method: "POST", body: form });
    const j = await r.json();
    if (!r.ok) { $("ostatus").textContent = "오류: " + j.error; return; }
    $("ostatus").textContent = "완료 (" + j.duration + " s)";
    showSegments(j.segments);
  }

  if (S.mode === "online") {
    $("online").hidden = false;
    $("start").onclick = start;
    $("stop").onclick = stop;
  } else {
    $("offline").hidden = false;
    $("upload").onsubmit = upload;
  }
  window.hyperspStart = start;
  window.hyperspStop = stop;
})();
