// hypersp demo page: live microphone recognition (online apps) or file upload (offline apps).
// Every URL is relative to the page, so the page works under any host name, port and prefix.
(function () {
  "use strict";
  const S = window.HYPERSP;
  const $ = (id) => document.getElementById(id);
  // finals / partial: the server's results {text, display}; display: which form is shown (the checkbox)
  const state = (window.hyperspState = { finals: [], partial: null, errors: [], sent: 0, open: false, micBlocked: "",
    result: null, serverFiles: null, display: S.display !== false });
  // The display form (written numbers, punctuation) or the spoken form (what the model wrote) of a result.
  const shown = (r) => (r ? (state.display && typeof r.display === "string" ? r.display : r.text || "") : "");

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

  // ---- messages ----
  function setStatus(id, text, isError) {
    const el = $(id);
    el.textContent = text;
    el.classList.toggle("error", !!isError);
  }

  function para(text, code) {
    const p = document.createElement("p");
    p.textContent = text;
    if (code) { const c = document.createElement("code"); c.textContent = code; p.appendChild(c); }
    return p;
  }

  // The browser gives the microphone only to secure contexts: HTTPS pages, or http://localhost / 127.0.0.1.
  // A page opened as http://HOST:PORT/ from another machine has no navigator.mediaDevices at all.
  function micProblem() {
    if (!window.isSecureContext) return "insecure";
    if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia || !window.AudioWorkletNode) return "unsupported";
    return "";
  }

  function showMicNotice(kind) {
    const box = $("notice");
    box.textContent = "";
    const host = window.location.hostname, port = window.location.port || (window.location.protocol === "https:" ? "443" : "80");
    const path = window.location.pathname || "/";
    const appArg = path === "/" ? S.name : "all";
    if (kind === "insecure") {
      box.appendChild(para("이 페이지에서는 마이크를 쓸 수 없습니다."));
      box.appendChild(para("이유: 브라우저는 HTTPS 또는 localhost에서만 마이크를 허용합니다. 이 페이지는 다른 호스트(" + host +
        ")에서 암호화되지 않은 HTTP로 열렸습니다. 서버가 --no-ssl로 실행된 것으로 보입니다."));
      box.appendChild(para("해결 1: 서버를 --no-ssl 없이 실행하면 자체 서명 인증서를 만들어 HTTPS로 엽니다 (또는 --ssl-cert/--ssl-key로 " +
        "인증서를 지정하세요). 그다음 https 주소로 여세요 (자체 서명 인증서 경고는 한 번 수락): ",
        "hypersp-serve --app " + appArg + " --host 0.0.0.0 --port " + port + "  →  https://" + host + ":" + port + path));
      box.appendChild(para("해결 2: SSH 터널로 localhost에서 여세요: ",
        "ssh -L " + port + ":localhost:" + port + " 사용자@" + host + "  →  http://localhost:" + port + path));
    } else {
      box.appendChild(para("이 브라우저는 마이크 입력(getUserMedia, AudioWorklet)을 지원하지 않습니다. 최신 Chrome, Edge, Firefox, Safari에서 여세요."));
    }
    box.hidden = false;
  }

  function micErrorMessage(err) {
    const name = (err && err.name) || "";
    if (name === "NotAllowedError" || name === "SecurityError" || name === "PermissionDeniedError")
      return "마이크 사용이 거부되었습니다: 주소창의 사이트 설정에서 마이크를 허용한 뒤 다시 시작하세요.";
    if (name === "NotFoundError" || name === "DevicesNotFoundError" || name === "OverconstrainedError")
      return "마이크를 찾을 수 없습니다: 마이크가 연결되어 있는지, 시스템 설정에서 켜져 있는지 확인하세요.";
    if (name === "NotReadableError" || name === "TrackStartError" || name === "AbortError")
      return "마이크를 열 수 없습니다: 다른 프로그램이 마이크를 쓰고 있는지 확인하세요.";
    return "마이크를 시작할 수 없습니다" + (name ? " (" + name + ")" : "") + ".";
  }

  // ---- online ----
  let ws = null, ctx = null, media = null, node = null, stopping = false;
  let sendPending = () => {}; // sends the audio captured since the last message (set by start)
  function render() {
    const finals = $("finals");
    finals.textContent = "";
    for (const m of state.finals) { const d = document.createElement("div"); d.textContent = shown(m); finals.appendChild(d); }
    $("partial").textContent = shown(state.partial);
  }

  async function start() {
    if (state.micBlocked) { showMicNotice(state.micBlocked); return; }
    $("start").disabled = true;
    stopping = false;
    let lastError = "", opened = false;
    setStatus("status", "연결 중…");
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
      ws.onopen = () => { opened = true; state.open = true; setStatus("status", "듣는 중 (" + S.sample_rate + " Hz)"); $("stop").disabled = false; };
      ws.onmessage = (ev) => {
        let msg;
        try { msg = JSON.parse(ev.data); } catch (e) { return; }
        if (msg.error) { lastError = msg.error; state.errors.push(msg.error); setStatus("status", "오류: " + msg.error, true); return; }
        if (msg.settings) return;
        const result = { text: msg.text || "", display: msg.display };
        if (msg.final) { if (msg.text) state.finals.push(result); state.partial = null; }
        else state.partial = msg.text ? result : null;
        render();
      };
      ws.onclose = (ev) => {
        state.open = false;
        if (lastError) setStatus("status", "오류: " + lastError + " (연결 종료)", true);
        else if (!opened) setStatus("status", "서버에 연결할 수 없습니다 (연결 종료)", true);
        else if (ev.code === 1000 || ev.code === 1005 || stopping) setStatus("status", "연결 종료");
        else setStatus("status", "연결 종료 (코드 " + ev.code + (ev.reason ? ": " + ev.reason : "") + ")", true);
        stopAudio(); ws = null;
        $("start").disabled = false; $("stop").disabled = true;
      };
      sendPending = () => {
        if (!pendingLen || !ws || ws.readyState !== WebSocket.OPEN) return;
        const all = new Float32Array(pendingLen);
        let o = 0; for (const p of pending) { all.set(p, o); o += p.length; }
        pending = []; pendingLen = 0;
        ws.send(toPcm16(all).buffer);
        state.sent += all.length;
      };
      node.port.onmessage = (ev) => {
        const y = down.push(ev.data);
        if (y.length) { pending.push(y); pendingLen += y.length; }
        if (pendingLen >= chunk) sendPending();
      };
      src.connect(node);
    } catch (err) {
      const msg = micErrorMessage(err);
      setStatus("status", msg, true);
      state.errors.push(msg);
      stopAudio();
      $("start").disabled = false;
    }
  }

  function stopAudio() {
    if (node) { node.port.onmessage = null; node.disconnect(); node = null; }
    if (media) { media.getTracks().forEach((t) => t.stop()); media = null; }
    if (ctx) { ctx.close(); ctx = null; }
  }

  function stop() {
    sendPending(); // the last < 100 ms of speech too: nothing captured is dropped
    stopAudio();
    stopping = true;
    if (ws && ws.readyState === WebSocket.OPEN) {
      setStatus("status", "마무리 중…");
      ws.send(JSON.stringify({ state: 0, data: [] })); // end of utterance: the server sends the final
      const sock = ws;
      setTimeout(() => sock.readyState === WebSocket.OPEN && sock.close(1000, "stopped"), 1500);
    }
    $("stop").disabled = true;
  }

  function clearOnline() {
    state.finals = []; state.partial = null;
    render();
  }

  // ---- offline ----
  const SPEAKERS = { agent: "상담원", customer: "고객" };
  function speakerLabel(s) {
    if (!s.speaker) return "";
    if (SPEAKERS[s.speaker]) return SPEAKERS[s.speaker];
    const m = /^channel (\d+)$/.exec(s.speaker);
    return m ? "채널 " + m[1] : String(s.speaker);
  }
  function fmt(t) { const m = Math.floor(t / 60), s = (t % 60).toFixed(2).padStart(5, "0"); return m + ":" + s; }
  function stamp(t, sep) { // 3723.5 -> 01:02:03,500 (SRT) / 01:02:03.500 (WebVTT)
    const ms = Math.max(0, Math.round(t * 1000));
    const h = Math.floor(ms / 3600000), m = Math.floor(ms / 60000) % 60, s = Math.floor(ms / 1000) % 60;
    const p = (v, n) => String(v).padStart(n, "0");
    return p(h, 2) + ":" + p(m, 2) + ":" + p(s, 2) + sep + p(ms % 1000, 3);
  }
  function lineText(s) { const who = speakerLabel(s); return (who ? who + ": " : "") + shown(s); }

  const exporters = {
    txt: (r) => r.segments.map((s) => "[" + fmt(s.start) + " - " + fmt(s.end) + "] " + lineText(s)).join("\n") + (r.segments.length ? "\n" : ""),
    srt: (r) => r.segments.filter((s) => s.text).map((s, i) =>
      (i + 1) + "\n" + stamp(s.start, ",") + " --> " + stamp(s.end, ",") + "\n" + lineText(s) + "\n").join("\n"),
    vtt: (r) => "WEBVTT\n\n" + r.segments.filter((s) => s.text).map((s) =>
      stamp(s.start, ".") + " --> " + stamp(s.end, ".") + "\n" + lineText(s) + "\n").join("\n"),
    json: (r) => JSON.stringify(r, null, 2) + "\n",
  };
  const MIME = { txt: "text/plain", srt: "application/x-subrip", vtt: "text/vtt", json: "application/json" };
  const LABEL = { txt: "텍스트 (TXT)", srt: "SRT 자막", vtt: "WebVTT 자막", json: "JSON" };
  let objectUrls = [];

  function addLink(box, href, name, label) {
    if (box.childNodes.length > 1) box.appendChild(document.createTextNode(" "));
    const a = document.createElement("a");
    a.href = href; a.download = name; a.textContent = label;
    box.appendChild(a);
  }

  function showDownloads(result, serverFiles) {
    const box = $("downloads");
    box.textContent = "내려받기: ";
    for (const kind of ["txt", "srt", "vtt", "json"]) {
      const name = S.name + "." + kind;
      if (serverFiles && serverFiles[kind]) { addLink(box, serverFiles[kind], name, LABEL[kind]); continue; }
      const url = URL.createObjectURL(new Blob([exporters[kind](result)], { type: MIME[kind] + ";charset=utf-8" }));
      objectUrls.push(url);
      addLink(box, url, name, LABEL[kind]);
    }
  }

  function showSegments(segs) {
    const body = $("segments").querySelector("tbody");
    body.textContent = "";
    for (const s of segs) {
      const tr = document.createElement("tr");
      for (const v of [fmt(s.start), fmt(s.end), speakerLabel(s), shown(s)]) { const td = document.createElement("td"); td.textContent = v; tr.appendChild(td); }
      body.appendChild(tr);
    }
  }

  // The server's subtitle files hold the form the server was set to show (serve.display); the other form
  // is built in the page.
  function showResult() {
    if (!state.result) return;
    for (const u of objectUrls) URL.revokeObjectURL(u);
    objectUrls = [];
    showSegments(state.result.segments || []);
    showDownloads(state.result, state.display === (S.display !== false) ? state.serverFiles : null);
  }

  function clearResults() {
    $("segments").querySelector("tbody").textContent = "";
    $("downloads").textContent = "";
    for (const u of objectUrls) URL.revokeObjectURL(u);
    objectUrls = [];
    const bar = $("progress"); bar.hidden = true; bar.value = 0;
    state.result = null; state.serverFiles = null;
  }

  function clearOffline() {
    clearResults();
    $("file").value = "";
    setStatus("ostatus", "대기 중");
  }

  function httpMessage(status) {
    if (status === 0) return "서버에 연결할 수 없습니다: 네트워크를 확인하세요. 파일이 너무 크면 서버가 연결을 끊기도 합니다.";
    if (status === 413) return "파일이 너무 큽니다 (HTTP 413): 서버나 프록시의 업로드 한도를 넘었습니다.";
    if (status === 502 || status === 503 || status === 504) return "서버가 응답하지 않습니다 (HTTP " + status + "): 서버나 프록시 상태를 확인하세요.";
    if (status === 404) return "주소를 찾을 수 없습니다 (HTTP 404).";
    return "서버 오류 (HTTP " + status + ").";
  }

  // A JSON answer, or an Error with a Korean message: error bodies that are not JSON (a proxy's HTML 413
  // page, a gateway timeout) never reach JSON.parse unguarded.
  function parseAnswer(status, ctype, text) {
    let body = null;
    if ((ctype || "").toLowerCase().includes("json")) { try { body = JSON.parse(text); } catch (e) { body = null; } }
    if (status >= 200 && status < 300 && body) return body;
    if (body && typeof body.error === "string" && body.error) throw new Error(body.error);
    if (status >= 200 && status < 300) throw new Error("서버 응답을 읽을 수 없습니다 (JSON이 아님).");
    throw new Error(httpMessage(status));
  }

  async function getJson(url) {
    let r;
    try { r = await fetch(url, { cache: "no-store" }); } catch (e) { throw new Error(httpMessage(0)); }
    return parseAnswer(r.status, r.headers.get("content-type"), await r.text());
  }

  // POST with upload progress ("올리는 중… 42%"), then "인식 중…" while the server works.
  function postForm(url, form) {
    return new Promise((resolve, reject) => {
      const xhr = new XMLHttpRequest();
      xhr.open("POST", url);
      xhr.upload.onprogress = (ev) => {
        if (ev.lengthComputable) setStatus("ostatus", "올리는 중… " + Math.round((100 * ev.loaded) / Math.max(ev.total, 1)) + "%");
      };
      xhr.upload.onload = () => setStatus("ostatus", "인식 중…");
      xhr.onload = () => { try { resolve(parseAnswer(xhr.status, xhr.getResponseHeader("content-type"), xhr.responseText)); } catch (e) { reject(e); } };
      xhr.onerror = () => reject(new Error(httpMessage(0)));
      xhr.send(form);
    });
  }

  const JOB_STATUS = { queued: "대기 중…", running: "인식 중…", done: "완료", error: "오류" };
  const sleep = (ms) => new Promise((res) => setTimeout(res, ms));

  async function uploadFile(f) {
    if (!f) { setStatus("ostatus", "인식할 파일을 고르세요.", true); return null; }
    clearResults();
    const form = new FormData();
    form.append("file", f);
    $("submit").disabled = true;
    setStatus("ostatus", "올리는 중…");
    try {
      let result, serverFiles = null;
      if (S.name === "subtitles") {
        const job = await postForm("jobs", form);
        const bar = $("progress"); bar.hidden = false;
        for (;;) {
          await sleep(500);
          const st = await getJson(job.status_url);
          bar.value = st.progress || 0;
          if (st.status === "error") throw new Error(st.error || "인식에 실패했습니다.");
          if (st.status === "done") {
            result = { text: st.text, display: st.display, duration: st.duration, segments: st.segments };
            serverFiles = { srt: st.srt_url, vtt: st.vtt_url };
            break;
          }
          setStatus("ostatus", (JOB_STATUS[st.status] || st.status) + (st.status === "running" ? " " + Math.round(100 * (st.progress || 0)) + "%" : ""));
        }
        bar.hidden = true;
      } else {
        result = await postForm("recognize", form);
      }
      state.result = result; state.serverFiles = serverFiles;
      showResult();
      setStatus("ostatus", "완료 (" + Number(result.duration || 0).toFixed(1) + "초, 구간 " + (result.segments || []).length + "개)");
      return result;
    } catch (err) {
      const msg = (err && err.message) || httpMessage(0);
      state.errors.push(msg);
      setStatus("ostatus", "오류: " + msg, true);
      $("progress").hidden = true;
      return null;
    } finally {
      $("submit").disabled = false;
    }
  }

  $("display").checked = state.display;
  $("display").onchange = () => {
    state.display = $("display").checked;
    if (S.mode === "online") render(); else showResult();
  };
  if (S.mode === "online") {
    $("online").hidden = false;
    $("start").onclick = start;
    $("stop").onclick = stop;
    $("clear").onclick = clearOnline;
    state.micBlocked = micProblem();
    if (state.micBlocked) {
      $("start").disabled = true;
      showMicNotice(state.micBlocked);
      setStatus("status", state.micBlocked === "insecure" ? "마이크 사용 불가: HTTPS가 아닙니다" : "마이크 사용 불가", true);
    }
  } else {
    $("offline").hidden = false;
    $("upload").onsubmit = (ev) => { ev.preventDefault(); uploadFile($("file").files[0]); };
    $("oclear").onclick = clearOffline;
  }
  window.hyperspStart = start;
  window.hyperspStop = stop;
  window.hyperspClear = S.mode === "online" ? clearOnline : clearOffline;
  window.hyperspUpload = uploadFile;
  window.hyperspParseAnswer = parseAnswer;
})();
