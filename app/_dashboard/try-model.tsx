'use client';

import { useEffect, useRef, useState } from 'react';

const CANVAS_PX = 280;
type LoadedModel = { predict(pixels: Float32Array): number[]; inputShape: number[] };

/** Converts the drawing to the model's input: downscale to 28x28, grey level / 255 (MNIST's k/255, white digit on black). */
function canvasPixels(canvas: HTMLCanvasElement, side: number): Float32Array {
  const small = document.createElement('canvas');
  small.width = side;
  small.height = side;
  const ctx = small.getContext('2d');
  if (!ctx) throw new Error('no 2d canvas context');
  ctx.imageSmoothingEnabled = true;
  ctx.imageSmoothingQuality = 'high';
  ctx.drawImage(canvas, 0, 0, side, side);
  const rgba = ctx.getImageData(0, 0, side, side).data;
  const out = new Float32Array(side * side);
  for (let i = 0; i < out.length; i++) out[i] = (rgba[i * 4] ?? 0) / 255;
  return out;
}

/**
 * "Try it": loads an exported model version (`model.json` + `weights.bin`) into tfjs in the page,
 * lets the user draw a digit, and shows the predicted class with its probabilities.
 */
export function TryModel({ modelName, version }: { modelName: string; version: string }) {
  const canvasRef = useRef<HTMLCanvasElement | null>(null);
  const drawing = useRef(false);
  const [model, setModel] = useState<LoadedModel | null>(null);
  const [status, setStatus] = useState('loading model…');
  const [probs, setProbs] = useState<number[] | null>(null);
  const url = `/api/v1/models/${encodeURIComponent(modelName)}/versions/${encodeURIComponent(version)}/model.json`;

  useEffect(() => {
    let cancelled = false;
    void (async () => {
      try {
        const [tf, tfl] = await Promise.all([import('@tensorflow/tfjs-core'), import('@tensorflow/tfjs-layers'), import('@tensorflow/tfjs-backend-cpu')]);
        await tf.setBackend('cpu');
        const m = await tfl.loadLayersModel(url);
        const inputShape = (m.inputs[0]?.shape ?? []).slice(1).map((d) => d ?? 1);
        if (cancelled) return;
        setModel({
          inputShape,
          predict: (pixels) =>
            tf.tidy(() => {
              const x = tf.tensor(pixels, [1, ...inputShape]);
              const y = m.predict(x) as import('@tensorflow/tfjs-core').Tensor;
              const out = Array.from(y.dataSync());
              // crowdtrain models end in logits (the loss applies softmax): turn them into probabilities.
              const isDistribution = out.every((v) => v >= 0) && Math.abs(out.reduce((a, b) => a + b, 0) - 1) < 1e-3;
              return isDistribution ? out : Array.from(tf.softmax(y).dataSync());
            }),
        });
        setStatus(`model loaded: input [${inputShape.join(', ')}]`);
      } catch (err) {
        if (!cancelled) setStatus(`cannot load ${url}: ${err instanceof Error ? err.message : String(err)}`);
      }
    })();
    return () => {
      cancelled = true;
    };
  }, [url]);

  useEffect(() => {
    const ctx = canvasRef.current?.getContext('2d');
    if (!ctx) return;
    ctx.fillStyle = '#000';
    ctx.fillRect(0, 0, CANVAS_PX, CANVAS_PX);
  }, []);

  const point = (e: React.PointerEvent<HTMLCanvasElement>) => {
    const box = e.currentTarget.getBoundingClientRect();
    return [((e.clientX - box.left) / box.width) * CANVAS_PX, ((e.clientY - box.top) / box.height) * CANVAS_PX] as const;
  };
  const clear = () => {
    const ctx = canvasRef.current?.getContext('2d');
    if (!ctx) return;
    ctx.fillStyle = '#000';
    ctx.fillRect(0, 0, CANVAS_PX, CANVAS_PX);
    setProbs(null);
  };
  const predict = () => {
    if (!model || !canvasRef.current) return;
    const side = model.inputShape[0] === 784 ? 28 : (model.inputShape[0] ?? 28);
    setProbs(model.predict(canvasPixels(canvasRef.current, side)));
  };
  const best = probs ? probs.indexOf(Math.max(...probs)) : null;

  return (
    <div className="flex flex-wrap gap-6">
      <div className="space-y-2">
        <canvas
          id="digit-canvas"
          ref={canvasRef}
          width={CANVAS_PX}
          height={CANVAS_PX}
          className="touch-none rounded-lg border border-slate-300 bg-black"
          onPointerDown={(e) => {
            drawing.current = true;
            const ctx = e.currentTarget.getContext('2d');
            const [x, y] = point(e);
            ctx?.beginPath();
            ctx?.moveTo(x, y);
          }}
          onPointerMove={(e) => {
            if (!drawing.current) return;
            const ctx = e.currentTarget.getContext('2d');
            if (!ctx) return;
            const [x, y] = point(e);
            ctx.strokeStyle = '#fff';
            ctx.lineWidth = 20;
            ctx.lineCap = 'round';
            ctx.lineJoin = 'round';
            ctx.lineTo(x, y);
            ctx.stroke();
          }}
          onPointerUp={() => {
            drawing.current = false;
            predict();
          }}
          onPointerLeave={() => (drawing.current = false)}
        />
        <div className="flex gap-2">
          <button type="button" onClick={predict} disabled={!model} className="rounded bg-blue-600 px-3 py-1.5 text-sm font-medium text-white disabled:opacity-50">
            Predict
          </button>
          <button type="button" onClick={clear} className="rounded border border-slate-300 bg-white px-3 py-1.5 text-sm">
            Clear
          </button>
        </div>
        <p className="text-xs text-slate-500" data-testid="model-status">
          {status}
        </p>
      </div>
      <div className="min-w-64 flex-1 space-y-1">
        <p className="text-lg">
          Prediction:{' '}
          <span className="font-bold" data-testid="prediction">
            {best === null ? '–' : best}
          </span>
        </p>
        {probs?.map((p, i) => (
          <div key={i} className="flex items-center gap-2 text-sm">
            <span className="w-4 tabular-nums">{i}</span>
            <span className="h-3 rounded bg-blue-500" style={{ width: `${Math.round(p * 200)}px` }} />
            <span className="tabular-nums text-slate-600">{(100 * p).toFixed(1)}%</span>
          </div>
        ))}
      </div>
    </div>
  );
}
