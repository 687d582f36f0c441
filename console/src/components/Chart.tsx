import { useEffect, useRef, useState } from 'preact/hooks';
import type { Chart, ChartConfiguration } from 'chart.js';

// Chart.js is loaded on first use (its own chunk), so the rest of the console stays small.
let loader: Promise<typeof Chart> | null = null;
function loadChart(): Promise<typeof Chart> {
  loader ??= import('./chartsetup').then((m) => m.Chart);
  return loader;
}

/** A Chart.js canvas with a text alternative; the data is also offered as a table by the caller. */
export function ChartCanvas({ config, label, id }: { config: ChartConfiguration<'bar'>; label: string; id: string }) {
  const canvas = useRef<HTMLCanvasElement>(null);
  const chart = useRef<Chart<'bar'> | null>(null);
  const [failed, setFailed] = useState(false);

  useEffect(() => {
    let cancelled = false;
    loadChart()
      .then((ChartCtor) => {
        if (cancelled || !canvas.current) return;
        if (chart.current) {
          chart.current.data = config.data;
          if (config.options) chart.current.options = config.options;
          chart.current.update();
        } else {
          chart.current = new ChartCtor(canvas.current, config);
        }
      })
      .catch(() => setFailed(true));
    return () => {
      cancelled = true;
    };
  }, [config]);

  useEffect(
    () => () => {
      chart.current?.destroy();
      chart.current = null;
    },
    [],
  );

  return (
    <div class="chart-box">
      {failed && <p class="error">The chart could not be drawn; the table has the same data.</p>}
      <canvas ref={canvas} id={id} role="img" aria-label={label} />
    </div>
  );
}
