/**
 * The subjects of the current state (cluster and registry IDs, attachments, pending forget requests), for
 * resolving names and answering attachment questions without keeping every finding in memory.
 */
import type { StoredAttachment, StoredState } from "../core/ports.js";
import { nameOf, normalizeId, sameId } from "../core/resource-id.js";
import { clusterNameMatches, registryNameMatches } from "./findings-query.js";

export interface SubjectIndex {
  generation: number;
  lastRunId: string | null;
  /** Distinct cluster IDs (first spelling seen). */
  clusterIds: string[];
  /** Distinct registry IDs, or declared texts of unresolved entries. */
  registryIds: string[];
  attachments: StoredAttachment[];
  forgotten: StoredState["forgotten"];
}

function distinct(ids: Iterable<string | null>): string[] {
  const seen = new Map<string, string>();
  for (const id of ids) if (id && !seen.has(normalizeId(id))) seen.set(normalizeId(id), id);
  return [...seen.values()];
}

export function subjectIndexOf(state: StoredState): SubjectIndex {
  return {
    generation: state.generation,
    lastRunId: state.lastRunId,
    clusterIds: distinct([...state.findings.map((f) => f.clusterId), ...state.attachments.map((a) => a.clusterId)]),
    registryIds: distinct([...state.findings.map((f) => f.registryId), ...state.attachments.map((a) => a.registryId)]),
    attachments: state.attachments,
    forgotten: state.forgotten,
  };
}

export function resolveClusterName(idx: SubjectIndex, name: string): string[] {
  return idx.clusterIds.filter((id) => clusterNameMatches(id, name));
}

export function resolveRegistryName(idx: SubjectIndex, name: string): string[] {
  return idx.registryIds.filter((id) => registryNameMatches(id, name));
}

export function findCluster(idx: SubjectIndex, id: string): string | undefined {
  return idx.clusterIds.find((c) => sameId(c, id));
}

export function clusterName(id: string): string {
  return nameOf(id);
}
