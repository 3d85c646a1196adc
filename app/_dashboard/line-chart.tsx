'use client';

import { useMemo, useState } from 'react';
import { downsampleMinMax, formatValue, logTicks, niceTicks, smoothEma, type XY } from './chart-math.ts';

/** One line of a chart. */
export interface ChartSeries {
  name: string;
  color: string;
  points: readonly XY[];
}

/** Colours for series, in order. */
export const SERIES_COLORS = ['#2563eb', '#dc2626', '#16a34a', '#9333ea', '#ea580c', '#0891b2', '#ca8a04', '#db2777'] as const;

const WIDTH = 560;
const HEIGHT = 220;
const PAD = { left: 56, right: 12, top: 10, bottom: 26 };
/** Most points drawn per series; longer series are min/max downsampled. */
const MAX_DRAWN = 1200;

/**
 * An SVG line chart of one metric (one or more series on the same axes), with EMA smoothing and
 * an optional log y axis. `data-points` on the figure is the number of points received (all series).
 */
export function LineChart({ title, series, smoothing = 0, logScale = false }: { title: string; series: readonly ChartSeries[]; smoothing?: number; logScale?: boolean }) {
  const [hoverX, setHoverX] = useState<number | null>(null);
  const total = series.reduce((s, ser) => s + ser.points.length, 0);
  const drawn = useMemo(
    () =>
      series.map((s) => {
        const usable = logScale ? s.points.filter((p) => p.y > 0) : s.points;
        const ys = smoothEma(
          usable.map((p) => p.y),
          smoothing,
        );
        return { ...s, raw: usable, points: downsampleMinMax(usable.map((p, i) => ({ x: p.x, y: ys[i] ?? p.y })), MAX_DRAWN) };
      }),
    [series, smoothing, logScale],
  );
  const all = drawn.flatMap((s) => s.points);
  const xs = all.map((p) => p.x);
  const ys = all.map((p) => p.y).filter((y) => Number.isFinite(y));
  const xMin = xs.length ? Math.min(...xs) : 0;
  const xMax = xs.length ? Math.max(...xs) : 1;
  let yMin = ys.length ? Math.min(...ys) : 0;
  let yMax = ys.length ? Math.max(...ys) : 1;
  if (yMin === yMax) {
    yMin = logScale ? yMin / 2 : yMin - 1;
    yMax = logScale ? yMax * 2 : yMax + 1;
  }
  const fy = (y: number) => (logScale ? Math.log10(y) : y);
  const sx = (x: number) => PAD.left + ((x - xMin) / (xMax - xMin || 1)) * (WIDTH - PAD.left - PAD.right);
  const sy = (y: number) => HEIGHT - PAD.bottom - ((fy(y) - fy(yMin)) / (fy(yMax) - fy(yMin) || 1)) * (HEIGHT - PAD.top - PAD.bottom);
  const yTicks = (logScale ? logTicks(yMin, yMax) : niceTicks(yMin, yMax, 4)).filter((t) => t >= yMin && t <= yMax);
  const xTicks = niceTicks(xMin, xMax, 5);
  const hover =
    hoverX === null
      ? null
      : drawn.map((s) => {
          let best: XY | undefined;
          for (const p of s.points) if (!best || Math.abs(p.x - hoverX) < Math.abs(best.x - hoverX)) best = p;
          return { name: s.name, color: s.color, point: best };
        });

  return (
    <figure className="rounded-xl border border-slate-200 bg-white p-3 shadow-sm" data-testid={`chart-${title}`} data-points={total}>
      <figcaption className="mb-1 flex items-baseline justify-between gap-2 text-sm">
        <span className="font-medium text-slate-900">{title}</span>
        <span className="text-xs text-slate-500">{total.toLocaleString('en-US')} points</span>
      </figcaption>
      {total === 0 ? (
        <p className="py-16 text-center text-sm text-slate-400">no points yet</p>
      ) : (
        <svg
          viewBox={`0 0 ${WIDTH} ${HEIGHT}`}
          className="h-auto w-full"
          role="img"
          aria-label={`${title} by step`}
          onMouseLeave={() => setHoverX(null)}
          onMouseMove={(e) => {
            const box = e.currentTarget.getBoundingClientRect();
            const px = ((e.clientX - box.left) / box.width) * WIDTH;
            setHoverX(xMin + ((px - PAD.left) / (WIDTH - PAD.left - PAD.right)) * (xMax - xMin));
          }}
        >
          {yTicks.map((t) => (
            <g key={`y${t}`}>
              <line x1={PAD.left} x2={WIDTH - PAD.right} y1={sy(t)} y2={sy(t)} stroke="#e2e8f0" />
              <text x={PAD.left - 6} y={sy(t) + 4} textAnchor="end" fontSize="11" fill="#64748b">
                {formatValue(t)}
              </text>
            </g>
          ))}
          {xTicks.map((t) => (
            <text key={`x${t}`} x={sx(t)} y={HEIGHT - 8} textAnchor="middle" fontSize="11" fill="#64748b">
              {formatValue(t)}
            </text>
          ))}
          {drawn.map((s) =>
            s.points.length === 1 && s.points[0] ? (
              <circle key={s.name} cx={sx(s.points[0].x)} cy={sy(s.points[0].y)} r={3} fill={s.color} />
            ) : (
              <polyline
                key={s.name}
                fill="none"
                stroke={s.color}
                strokeWidth={1.6}
                strokeLinejoin="round"
                data-series={s.name}
                data-series-points={s.raw.length}
                points={s.points.map((p) => `${sx(p.x).toFixed(1)},${sy(p.y).toFixed(1)}`).join(' ')}
              />
            ),
          )}
          {hoverX !== null && hoverX >= xMin && hoverX <= xMax ? <line x1={sx(hoverX)} x2={sx(hoverX)} y1={PAD.top} y2={HEIGHT - PAD.bottom} stroke="#94a3b8" strokeDasharray="3 3" /> : null}
        </svg>
      )}
      <div className="mt-1 flex min-h-5 flex-wrap gap-x-4 text-xs text-slate-600">
        {(hover ?? drawn.map((s) => ({ name: s.name, color: s.color, point: s.points[s.points.length - 1] }))).map((h) => (
          <span key={h.name} className="inline-flex items-center gap-1">
            <span className="inline-block h-2 w-2 rounded-full" style={{ background: h.color }} aria-hidden="true" />
            {series.length > 1 ? `${h.name}: ` : ''}
            {h.point ? `${formatValue(h.point.y)} @ ${formatValue(h.point.x)}` : '–'}
          </span>
        ))}
      </div>
    </figure>
  );
}

/** The smoothing slider and log-scale checkbox above a grid of charts. */
export function ChartControls({
  smoothing,
  onSmoothing,
  logScale,
  onLogScale,
  showSmoothingValue = false,
}: {
  smoothing: number;
  onSmoothing: (value: number) => void;
  logScale: boolean;
  onLogScale: (value: boolean) => void;
  showSmoothingValue?: boolean;
}) {
  return (
    <>
      <label className="flex items-center gap-2">
        smoothing
        <input type="range" min={0} max={0.99} step={0.01} value={smoothing} onChange={(e) => onSmoothing(Number(e.target.value))} aria-label="smoothing" />
        {showSmoothingValue ? <span className="w-8 tabular-nums">{smoothing.toFixed(2)}</span> : null}
      </label>
      <label className="flex items-center gap-2">
        <input type="checkbox" checked={logScale} onChange={(e) => onLogScale(e.target.checked)} aria-label="log scale" />
        log scale
      </label>
    </>
  );
}
