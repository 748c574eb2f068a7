// Charts with the vendored Chart.js (window.Chart, its UMD build): bars whose click drills down.

const PALETTE = ["#2f6fdf", "#e07b39", "#3aa17e", "#c64b6b", "#8a63d2", "#9a8a2e", "#4aa3c7"];

export function barChart(canvas, { labels, datasets, horizontal = false, onPick = null, stacked = false, percent = false }) {
  if (!window.Chart) {
    canvas.replaceWith(document.createTextNode("(Chart.js did not load)"));
    return null;
  }
  const chart = new window.Chart(canvas, {
    type: "bar",
    data: {
      labels,
      datasets: datasets.map((dataset, index) => ({
        backgroundColor: PALETTE[index % PALETTE.length],
        borderRadius: 3,
        ...dataset,
      })),
    },
    options: {
      animation: false,
      responsive: true,
      maintainAspectRatio: false,
      indexAxis: horizontal ? "y" : "x",
      plugins: { legend: { display: datasets.length > 1, position: "bottom" } },
      scales: {
        x: { stacked, ticks: horizontal && percent ? { callback: (value) => `${value} %` } : {} },
        y: { stacked, beginAtZero: true, ticks: !horizontal && percent ? { callback: (value) => `${value} %` } : {} },
      },
      onHover: (event, elements) => {
        event.native.target.style.cursor = onPick && elements.length ? "pointer" : "default";
      },
      onClick: (event, elements) => {
        if (onPick && elements.length) onPick(elements[0].index, elements[0].datasetIndex);
      },
    },
  });
  return chart;
}
