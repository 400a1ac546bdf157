// The ClusterRoles that say who may call Hearth: the same objects the Helm chart installs
// (charts/hearth/templates/rbac.yaml; test/integration/chart.test.ts fails when the two differ)
// and dev mode applies, so a team's access can be tried locally exactly as in a cluster.
//  - <prefix>-edit: aggregated into the built-in admin/edit roles (manage Hearth objects, call them)
//  - <prefix>-view: aggregated into view (read Hearth objects)
//  - <prefix>-invoker: only call (functions/invoke, workflows/invoke); bind it with a RoleBinding
export interface PolicyRule {
  apiGroups: string[];
  resources: string[];
  verbs: string[];
}

export interface ClusterRole {
  apiVersion: "rbac.authorization.k8s.io/v1";
  kind: "ClusterRole";
  metadata: { name: string; labels: Record<string, string> };
  rules: PolicyRule[];
}

const GROUP = "hearth.dev";
const INVOKE: PolicyRule = { apiGroups: [GROUP], resources: ["functions/invoke", "workflows/invoke"], verbs: ["create"] };

function role(name: string, labels: Record<string, string>, rules: PolicyRule[]): ClusterRole {
  return { apiVersion: "rbac.authorization.k8s.io/v1", kind: "ClusterRole", metadata: { name, labels }, rules };
}

/** The caller ClusterRoles, named `<prefix>-edit|view|invoker` (the chart's prefix is its fullname). */
export function callerClusterRoles(prefix: string, labels: Record<string, string> = {}): ClusterRole[] {
  return [
    role(`${prefix}-edit`, { ...labels, "rbac.authorization.k8s.io/aggregate-to-admin": "true", "rbac.authorization.k8s.io/aggregate-to-edit": "true" }, [
      { apiGroups: [GROUP], resources: ["functions", "jobs", "workflows"], verbs: ["get", "list", "watch", "create", "update", "patch", "delete", "deletecollection"] },
      INVOKE,
    ]),
    role(`${prefix}-invoker`, { ...labels }, [INVOKE]),
    role(`${prefix}-view`, { ...labels, "rbac.authorization.k8s.io/aggregate-to-view": "true" }, [
      { apiGroups: [GROUP], resources: ["functions", "jobs", "workflows", "functions/status", "jobs/status", "workflows/status"], verbs: ["get", "list", "watch"] },
    ]),
  ];
}
