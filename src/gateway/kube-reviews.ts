// The apiserver as the gateway's authenticator and authorizer: a caller's bearer token goes to
// TokenReview (ServiceAccount tokens from the TokenRequest API, OIDC, whatever the cluster's
// authenticators accept), each call to SubjectAccessReview. Parsed with zod at the boundary.
import { z } from "zod";
import type { KubeClient } from "../kube/client.ts";

export interface KubeUser {
  username: string;
  uid?: string | undefined;
  groups: string[];
  extra?: Record<string, string[]> | undefined;
}

export interface ResourceAttributes {
  namespace: string;
  verb: string;
  group: string;
  resource: string;
  subresource?: string | undefined;
  name?: string | undefined;
}

export interface KubeReviewer {
  /** The user the token belongs to, or undefined when the apiserver does not accept it. */
  reviewToken(token: string, signal?: AbortSignal): Promise<KubeUser | undefined>;
  /** Whether RBAC (or the cluster's authorizers) allows `user` the `attributes`. */
  reviewAccess(user: KubeUser, attributes: ResourceAttributes, signal?: AbortSignal): Promise<boolean>;
}

const tokenReviewStatus = z.object({
  status: z
    .object({
      authenticated: z.boolean().optional(),
      user: z
        .object({
          username: z.string().optional(),
          uid: z.string().optional(),
          groups: z.array(z.string()).optional(),
          extra: z.record(z.string(), z.array(z.string())).optional(),
        })
        .optional(),
      error: z.string().optional(),
    })
    .optional(),
});

const accessReviewStatus = z.object({
  status: z.object({ allowed: z.boolean(), denied: z.boolean().optional(), reason: z.string().optional(), evaluationError: z.string().optional() }).optional(),
});

export class ApiserverReviewer implements KubeReviewer {
  private readonly client: KubeClient;
  private readonly audiences: readonly string[];

  /** `audiences`: what the tokens must be meant for; empty = the apiserver's own audiences. */
  constructor(client: KubeClient, audiences: readonly string[] = []) {
    this.client = client;
    this.audiences = audiences;
  }

  async reviewToken(token: string, signal?: AbortSignal): Promise<KubeUser | undefined> {
    const raw = await this.client.transport.request("POST", "/apis/authentication.k8s.io/v1/tokenreviews", {
      verb: "create",
      resource: "tokenreviews",
      signal,
      body: {
        apiVersion: "authentication.k8s.io/v1",
        kind: "TokenReview",
        spec: { token, ...(this.audiences.length === 0 ? {} : { audiences: this.audiences }) },
      },
    });
    const status = tokenReviewStatus.parse(raw).status;
    const user = status?.user;
    if (status?.authenticated !== true || user?.username === undefined || user.username === "") return undefined;
    return { username: user.username, uid: user.uid, groups: user.groups ?? [], extra: user.extra };
  }

  async reviewAccess(user: KubeUser, attributes: ResourceAttributes, signal?: AbortSignal): Promise<boolean> {
    const raw = await this.client.transport.request("POST", "/apis/authorization.k8s.io/v1/subjectaccessreviews", {
      verb: "create",
      resource: "subjectaccessreviews",
      signal,
      body: {
        apiVersion: "authorization.k8s.io/v1",
        kind: "SubjectAccessReview",
        spec: {
          user: user.username,
          groups: user.groups,
          ...(user.uid === undefined ? {} : { uid: user.uid }),
          ...(user.extra === undefined ? {} : { extra: user.extra }),
          resourceAttributes: attributes,
        },
      },
    });
    return accessReviewStatus.parse(raw).status?.allowed === true;
  }
}
