// AudioWorklet: forwards each 128-frame render quantum (mono, float32 at the context rate) to the page.
class CaptureProcessor extends AudioWorkletProcessor {
  process(inputs) {
    const input = inputs[0];
    if (input && input.length > 0 && input[0].length > 0) {
      this.port.postMessage(input[0].slice(0));
    }
    return true;
  }
}
registerProcessor("hypersp-capture", CaptureProcessor);
