// A session's place in the pipeline (the API's `pipeline` field): received, summarizing, queued (position and an
// estimate), translating (systems i/n), stored or failed, as one badge.

import { h } from "./dom.js";

// "about 3 min" for an estimate in seconds.
export function aboutTime(seconds) {
  if (seconds === null || seconds === undefined) return null;
  if (seconds < 60) return "under a minute";
  const minutes = Math.round(seconds / 60);
  return minutes < 90 ? `about ${minutes} min` : `about ${Math.round(minutes / 60)} h`;
}

// The words for a pipeline state.
export function pipelineText(pipeline) {
  switch (pipeline.state) {
    case "received": return "received · waiting to be summarized";
    case "summarizing": return pipeline.attempt > 1 ? `summarizing · attempt ${pipeline.attempt}` : "summarizing";
    case "queued": {
      if (pipeline.edge === "offline") return "queued · the edge worker is offline";
      const parts = ["queued for the edge"];
      if (pipeline.position) parts.push(pipeline.position === 1 ? "next in line" : `${pipeline.position} waiting`);
      const eta = aboutTime(pipeline.estimate_seconds);
      if (eta) parts.push(eta);
      return parts.join(" · ");
    }
    case "translating": return `translating · ${pipeline.done}/${pipeline.total} systems`;
    case "stored": return `stored · ${pipeline.systems} ${pipeline.systems === 1 ? "system" : "systems"}`;
    case "failed": return "failed";
    default: return pipeline.state;
  }
}

// The badge, or null when the API gives no pipeline state.
export function pipelineBadge(pipeline) {
  if (!pipeline?.state) return null;
  return h("span", { class: "pipeline", dataset: { state: pipeline.state } }, pipelineText(pipeline));
}
