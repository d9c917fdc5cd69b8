// The cost panel: totals, a small inline SVG bar chart per day, and a per-model table.

import { describeError } from "./api.js";
import {
  byId, daysAgoUtc, filledFields, formatCost, formatCount, h, replace, setState, todayUtc, userText,
} from "./dom.js";
import { href } from "./router.js";

const SVG = "http://www.w3.org/2000/svg";
const METRICS = {
  cost_usd: { label: "Cost (USD)", value: (d) => d.cost_usd || 0, format: formatCost },
  calls: { label: "Calls", value: (d) => d.calls, format: formatCount },
  tokens: { label: "Tokens", value: (d) => d.input_tokens + d.output_tokens, format: formatCount },
};

function svg(tag, attrs = {}, ...children) {
  const el = document.createElementNS(SVG, tag);
  for (const [key, value] of Object.entries(attrs)) el.setAttribute(key, String(value));
  el.append(...children);
  return el;
}

export function barChart(days, metricKey) {
  const metric = METRICS[metricKey];
  const width = 600;
  const height = 150;
  const values = days.map(metric.value);
  const max = Math.max(...values, 0);
  const slot = width / Math.max(days.length, 1);
  const total = values.reduce((a, b) => a + b, 0);
  const first = days[0]?.day || "";
  const last = days.at(-1)?.day || "";
  const chart = svg("svg", { viewBox: `0 0 ${width} ${height}`, role: "img", class: "bar-chart",
    preserveAspectRatio: "none",
    "aria-label": `${metric.label} per day from ${first} to ${last}: total ${metric.format(total)}` });
  chart.append(svg("line", { x1: 0, x2: width, y1: height - 0.5, y2: height - 0.5, class: "axis" }));
  days.forEach((day, i) => {
    const value = metric.value(day);
    const barHeight = max ? ((height - 4) * value) / max : 0;
    const rect = svg("rect", { x: i * slot + slot * 0.15, width: Math.max(slot * 0.7, 1),
      y: height - barHeight, height: barHeight, class: "bar", "data-day": day.day, "data-value": value });
    rect.append(svg("title", {}, `${day.day}: ${metric.format(value)}`));
    chart.append(rect);
  });
  // Text stays outside the stretched SVG so it is never distorted.
  return h("figure", { class: "chart" },
    h("figcaption", { class: "muted" }, max ? `${metric.label} per day · highest ${metric.format(max)}`
      : `${metric.label} per day · every day is zero`),
    chart,
    h("div", { class: "chart-axis muted", "aria-hidden": "true" }, h("span", {}, first), h("span", {}, last)));
}

function totals(days) {
  const sum = (key) => days.reduce((total, day) => total + (day[key] || 0), 0);
  return h("dl", { class: "facts compact totals" },
    h("dt", {}, "Cost"), h("dd", {}, formatCost(sum("cost_usd"), sum("unpriced_calls"))),
    h("dt", {}, "Calls"), h("dd", {}, formatCount(sum("calls"))),
    h("dt", {}, "Input tokens"), h("dd", {}, formatCount(sum("input_tokens"))),
    h("dt", {}, "Output tokens"), h("dd", {}, formatCount(sum("output_tokens"))));
}

function modelTable(models) {
  if (!models.length) return null;
  return h("table", { class: "models" },
    h("caption", {}, "By model"),
    h("thead", {}, h("tr", {}, ["Model", "Calls", "Input", "Output", "Cost"].map((t) => h("th", { scope: "col" }, t)))),
    h("tbody", {}, models.map((m) => h("tr", {},
      h("th", { scope: "row" }, userText(m.model_id)),
      h("td", { class: "num" }, formatCount(m.calls)),
      h("td", { class: "num" }, formatCount(m.input_tokens)),
      h("td", { class: "num" }, formatCount(m.output_tokens)),
      h("td", { class: "num" }, formatCost(m.cost_usd, m.cost_usd === null ? 0 : m.unpriced_calls))))));
}

export class UsageView {
  constructor(api, router) {
    this.api = api;
    this.form = byId("usage-form");
    this.body = byId("usage-body");
    this.state = byId("usage-state");
    const go = () => router.go(href({ view: "costs", ...filledFields(this.form, ["from", "to", "metric"]) }));
    this.form.addEventListener("submit", (event) => {
      event.preventDefault();
      go();
    });
    byId("usage-metric").addEventListener("change", go);
  }

  // Range and chart from the address; the last 30 days of cost by default.
  async show({ from, to, metric }) {
    byId("usage-from").value = from || daysAgoUtc(29);
    byId("usage-to").value = to || todayUtc();
    byId("usage-metric").value = METRICS[metric] ? metric : "cost_usd";
    const range = { from: byId("usage-from").value, to: byId("usage-to").value };
    setState(this.state, "loading", "Loading usage…");
    try {
      const usage = await this.api.usage(range);
      const calls = usage.days.reduce((total, day) => total + day.calls, 0);
      setState(this.state, calls ? "" : "empty", calls ? "" : `No summarizer calls from ${usage.from} to ${usage.to}.`);
      replace(this.body,
        h("div", { class: "card" }, totals(usage.days), barChart(usage.days, byId("usage-metric").value)),
        modelTable(usage.models));
    } catch (error) {
      replace(this.body);
      setState(this.state, "error", describeError(error));
    }
  }
}
