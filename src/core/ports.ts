/**
 * Ports: the small interfaces the core needs from the edges. Adapters in `src/adapters` implement them;
 * tests may fake them (test/fakes) except where a test claims to test storage.
 */
import type { Cluster, NetworkFacts, Registry, Replication, RoleAssignment, RoleDefinition, Subscription } from "./inventory.js";
import type { AttachmentSource, Change, Finding, Severity, Status } from "./findings.js";

/** What one audit covers: all readable subscriptions, or one management group. */
export interface AuditScope {
  kind: "tenant" | "managementGroup";
  /** Management group name (ID) for kind `managementGroup`. */
  managementGroup?: string;
}

/** Stable, storage-safe key of a scope: `tenant` or `mg-<name>`. */
export function scopeKeyOf(scope: AuditScope): string {
  return scope.kind === "managementGroup" && scope.managementGroup
    ? `mg-${scope.managementGroup.toLowerCase().replace(/[^a-z0-9._-]/g, "_")}`
    : "tenant";
}

/** Rows of one query across subscriptions; subscriptions whose rows could not be read are listed. */
export interface Partial<T> {
  items: T[];
  /** Lower-case subscription GUIDs whose part of the query kept failing. */
  failedSubscriptions: string[];
  /** Names of queries that failed as a whole (e.g. `network:vnets`). */
  failedQueries: string[];
}

/** The network objects attachments reference; the adapter fetches only these (in batches). */
export interface NetworkNeeds {
  /** VNet IDs of node pool subnets (parents of `vnetSubnetID`). */
  vnetIds: string[];
  /** Node resource groups whose managed VNet serves pools without `vnetSubnetID`. */
  nodeResourceGroups: { subscriptionId: string; resourceGroup: string }[];
  /** Private endpoints referenced by registries' approved or pending connections. */
  privateEndpointIds: string[];
  /** Public IP / prefix IDs of clusters' effective outbound IPs (NAT gateway IPs are added by the adapter). */
  outboundIpIds: string[];
  /** Private link zone name, e.g. `privatelink.azurecr.io`. */
  privateLinkZone: string;
}

/** Narrows a subject query to some resources (a scoped audit such as triage). */
export interface SubjectFilter {
  ids?: string[];
  names?: string[];
  /** Registries only: login servers. */
  loginServers?: string[];
  /** Registries only: every registry of these resource groups (`/subscriptions/S/resourceGroups/G`). */
  resourceGroupIds?: string[];
}

/** Discovery: reads the estate. Implemented over Resource Graph + the authorization API. */
export interface DiscoveryPort {
  listSubscriptions(scope: AuditScope): Promise<Subscription[]>;
  listClusters(scope: AuditScope, subscriptions: string[], filter?: SubjectFilter): Promise<Partial<Cluster>>;
  listRegistries(scope: AuditScope, subscriptions: string[], filter?: SubjectFilter): Promise<Partial<Registry>>;
  /** Role assignments of these principals, at any scope including management groups and root. */
  listRoleAssignments(scope: AuditScope, subscriptions: string[], principalIds: string[]): Promise<Partial<RoleAssignment>>;
  /** Definitions by GUID (custom roles through Resource Graph, the rest through the authorization API). */
  getRoleDefinitions(scope: AuditScope, subscriptions: string[], guids: string[]): Promise<Partial<RoleDefinition>>;
  listNetworkFacts(scope: AuditScope, subscriptions: string[], needs: NetworkNeeds): Promise<Partial<NetworkFacts>>;
  listReplications(scope: AuditScope, subscriptions: string[], registryIds: string[]): Promise<Partial<Replication>>;
  /** Request counters, for the run record and telemetry. */
  stats(): DiscoveryStats;
}

export interface DiscoveryStats {
  resourceGraphRequests: number;
  armRequests: number;
  throttled: number;
  rows: number;
}

export type RunStatus = "running" | "succeeded" | "partial" | "failed";

export interface RunWarning {
  code: string;
  message: string;
  resourceId?: string;
}

export interface RunCounts {
  total: number;
  byStatus: Record<Status, number>;
  /** `status:severity` -> count, e.g. `fail:high`. */
  byStatusSeverity: Record<string, number>;
  byChange: Record<Change, number>;
  /** Failing findings without an exemption. */
  openFailing: number;
  exempted: number;
}

export interface RunRecord {
  id: string;
  scope: string;
  startedAt: string;
  finishedAt: string | null;
  durationMs: number | null;
  status: RunStatus;
  /** Subscription IDs (or `mg:<name>`) the run covered. */
  scopes: string[];
  /** What could not be read: `subscription:<guid>`, `query:<name>`. */
  missed: string[];
  warnings: RunWarning[];
  counts: RunCounts;
  stats: { resourceGraphRequests: number; armRequests: number; throttled: number; tableOperations: number };
  error?: string;
}

/** An attachment as remembered between runs. */
export interface StoredAttachment {
  clusterId: string;
  registryId: string;
  sources: AttachmentSource[];
}

/** An exemption created through the API. */
export interface ApiExemption {
  id: string;
  ruleId: string;
  clusterId: string | null;
  registryId: string | null;
  justification: string;
  expiresOn: string | null;
  createdAt: string;
  createdBy?: string;
}

/** The committed state of a scope, as the previous run left it. */
export interface StoredState {
  /** Committed generation (0 before the first run). */
  generation: number;
  lastRunId: string | null;
  findings: Finding[];
  attachments: StoredAttachment[];
  /** Attachments ended through the API since the last run (`forget`). */
  forgotten: { clusterId: string; registryId: string; requestedAt: string }[];
  exemptions: ApiExemption[];
}

export interface NextState {
  findings: Finding[];
  attachments: StoredAttachment[];
}

export type LeaseResult = { acquired: true; lease: Lease } | { acquired: false; holder: string; expiresAt: string };

export interface Lease {
  scopeKey: string;
  holder: string;
  etag: string;
  expiresAt: string;
}

export interface FindingQuery {
  clusterId?: string;
  registryId?: string;
  status?: Status;
  severity?: Severity;
}

export interface Page<T> {
  items: T[];
  /** Opaque store continuation, or undefined at the end. */
  continuation?: string;
  /** The generation of the state the page was read at (a store that versions its state says). */
  generation?: number;
}

/** `code` of a `commitRun` error after the switch: the run's state is committed, its run record is not written. */
export const RUN_RECORD_FAILED = "RunRecordFailed";

/** The store of runs and findings (Table Storage in Azure and on Azurite locally). */
export interface AuditStore {
  acquireLease(scopeKey: string, holder: string, ttlSeconds: number): Promise<LeaseResult>;
  releaseLease(lease: Lease): Promise<void>;
  loadState(scopeKey: string): Promise<StoredState>;
  /** Records a run as started (status `running`); readers keep seeing the previous state. */
  startRun(scopeKey: string, run: RunRecord): Promise<void>;
  /**
   * Writes `next` so that readers switch from `previous` to it at once (the run pointer is written last),
   * writing only entities that differ, then records `run` as finished. Fails with an error whose `code` is
   * `RUN_RECORD_FAILED` when the switch happened (`next` is the state) but the run record could not be written.
   */
  commitRun(scopeKey: string, run: RunRecord, previous: StoredState, next: NextState): Promise<void>;
  /**
   * Optional: per-finding work of a coming `commitRun` (encoding, keys) done ahead, while the run still
   * waits on discovery. The findings must not change afterwards; `commitRun` needs no prior `prepare`.
   */
  prepare?(scopeKey: string, findings: readonly Finding[]): void;
  /** Records a run that could not finish; the committed state is untouched. */
  failRun(scopeKey: string, run: RunRecord): Promise<void>;
  listRuns(scopeKey: string, top: number): Promise<RunRecord[]>;
  getRun(scopeKey: string, runId: string): Promise<RunRecord | undefined>;
  /** Findings whose `change` was not `unchanged` in that run (the drift feed). */
  listChanges(scopeKey: string, runId: string): Promise<Finding[]>;
  /**
   * Current findings through one access path (by cluster, by registry, or by status + severity). A first page
   * (no continuation) may be pinned to `generation` (a listing that began at it reads on at it) as long as the
   * store still holds it; the page says which generation it was read at.
   */
  queryFindings(scopeKey: string, query: FindingQuery, top: number, continuation?: string, generation?: number): Promise<Page<Finding>>;
  forgetAttachment(scopeKey: string, clusterId: string, registryId: string): Promise<void>;
  listExemptions(scopeKey: string): Promise<ApiExemption[]>;
  putExemption(scopeKey: string, exemption: ApiExemption): Promise<void>;
  deleteExemption(scopeKey: string, id: string): Promise<boolean>;
  /** Deletes run records and change feeds older than `before`. Returns how many runs were deleted. */
  pruneHistory(scopeKey: string, before: Date): Promise<number>;
  /** Table operations (entity reads and writes) since the store was created. */
  operations(): number;
}

/** Optional sink for telemetry; the core calls it, the telemetry adapter implements it. */
export interface AuditObserver {
  runCompleted?(run: RunRecord, findings: Finding[]): void;
  progress?(message: string): void;
}
