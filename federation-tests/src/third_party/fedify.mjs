// Fedify, the ActivityPub framework (npm: @fedify/fedify, @fedify/vocab),
// doing what its CLI's `fedify lookup` and `fedify inbox` do, for
// tests/third_party.rs.
//
// Why not the `fedify` command itself: the only @fedify/cli the npm
// registry serves here is 1.5.0, whose install step downloads a prebuilt
// binary from GitHub; that cannot work on a machine that reaches only the
// package registries (CI's included). So this file makes the same library
// calls the CLI makes (packages/cli/src/lookup.ts and inbox.tsx upstream):
// `lookupObject` with Fedify's document loader, `-a` as a one-time
// `Application` actor whose key signs the fetches through
// `getAuthenticatedDocumentLoader`, and the inbox as a `createFederation`
// app with an `Application` actor "i" that follows the given actor and
// records what arrives. Every parse, signature and check is Fedify's; this
// file only wires them up, and differs from the CLI where it must:
//
// - No tunnel: the CLI always tunnels `lookup -a`'s signer through a public
//   tunnel service (and `inbox` unless `-T/--no-tunnel`). Here both listen
//   on a loopback address under a rig host name the node resolves.
// - Private addresses: the CLI allows them for URLs given on its command
//   line; `inbox` (createFederation without `allowPrivateAddress`) refuses
//   them. The rig lives on 127.0.0.x, so both allow them here.
// - Names: the rig's `.test` names are resolved from
//   HEALTHCOMMONS_TEST_RESOLVE (`name=ip,…`, like the node's
//   HEALTHCOMMONS_DEV_RESOLVE), not by /etc/hosts.
// - The inbox checks signatures (the CLI's `inbox -A`; without it the CLI
//   skips them) and prints one JSON line per event on stdout.
//
// Usage:
//   node fedify.mjs lookup [--authorized-fetch --first-knock SPEC
//                           --listen IP:PORT --origin URL] URL...
//   node fedify.mjs inbox --listen IP:PORT --origin URL --follow URL

import dns from "node:dns";
import { readFileSync } from "node:fs";
import http from "node:http";
import process from "node:process";
import {
  createFederation,
  generateCryptoKeyPair,
  getAuthenticatedDocumentLoader,
  getDocumentLoader,
  MemoryKvStore,
} from "@fedify/fedify";
import {
  Activity,
  Application,
  CryptographicKey,
  Endpoints,
  Follow,
  isActor,
  lookupObject,
} from "@fedify/vocab";

// The driver runs beside a `node_modules` holding the installation.
const fedifyVersion = JSON.parse(
  readFileSync(new URL("node_modules/@fedify/fedify/package.json", import.meta.url), "utf8"),
).version;

function emit(event) {
  process.stdout.write(JSON.stringify(event) + "\n");
}

function fail(message) {
  emit({ event: "error", message });
  process.exit(2);
}

// --- Name resolution: the rig's names, as the node's dev resolver has them.
const names = new Map(
  (process.env.HEALTHCOMMONS_TEST_RESOLVE ?? "")
    .split(",")
    .filter((pair) => pair.includes("="))
    .map((pair) => pair.split("=", 2)),
);
const systemLookup = dns.lookup;
dns.lookup = function (hostname, options, callback) {
  if (typeof options === "function") [callback, options] = [options, {}];
  if (typeof options === "number") options = { family: options };
  const ip = names.get(String(hostname).toLowerCase());
  if (ip === undefined) {
    return systemLookup.call(this, hostname, options, callback);
  }
  if (options?.all) {
    return process.nextTick(callback, null, [{ address: ip, family: 4 }]);
  }
  return process.nextTick(callback, null, ip, 4);
};

// --- Arguments.
function parseArgs(argv) {
  const flags = { positional: [] };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === "-a" || arg === "--authorized-fetch") flags.authorizedFetch = true;
    else if (arg.startsWith("--")) {
      const value = argv[++i];
      if (value === undefined) fail(`${arg} needs a value`);
      flags[arg.slice(2)] = value;
    } else flags.positional.push(arg);
  }
  return flags;
}

// --- A plain node:http server in front of a fetch-style handler.
async function serve(listen, origin, handler) {
  const at = listen.lastIndexOf(":");
  const host = listen.slice(0, at);
  const port = Number(listen.slice(at + 1));
  const server = http.createServer(async (req, res) => {
    try {
      const chunks = [];
      for await (const chunk of req) chunks.push(chunk);
      const body = Buffer.concat(chunks);
      const headers = new Headers();
      for (const [key, value] of Object.entries(req.headers)) {
        for (const v of [value].flat()) if (v !== undefined) headers.append(key, v);
      }
      const request = new Request(new URL(req.url, origin), {
        method: req.method,
        headers,
        body: req.method === "GET" || req.method === "HEAD" ? undefined : body,
      });
      const response = await handler(request, body);
      res.writeHead(response.status, Object.fromEntries(response.headers));
      res.end(Buffer.from(await response.arrayBuffer()));
    } catch (error) {
      emit({ event: "error", message: `serving ${req.method} ${req.url}: ${error}` });
      res.writeHead(500);
      res.end();
    }
  });
  await new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, resolve);
  });
  return server;
}

// What Fedify made of an object: its class and the properties the tests ask about.
async function describe(object, loaders) {
  if (object == null) return null;
  const out = { type: object.constructor.name, id: object.id?.href ?? null };
  if (isActor(object)) {
    out.preferredUsername = object.preferredUsername?.toString() ?? null;
    out.name = object.name?.toString() ?? null;
    out.inbox = object.inboxId?.href ?? null;
    out.outbox = object.outboxId?.href ?? null;
    out.followers = object.followersId?.href ?? null;
    out.sharedInbox = object.endpoints?.sharedInbox?.href ?? null;
    out.manuallyApprovesFollowers = object.manuallyApprovesFollowers ?? null;
    out.discoverable = object.discoverable ?? null;
    const key = await object.getPublicKey(loaders);
    out.publicKey = key == null
      ? null
      : { id: key.id?.href ?? null, owner: key.ownerId?.href ?? null, algorithm: key.publicKey?.algorithm?.name ?? null };
  } else {
    out.attributedTo = object.attributionIds?.map((u) => u.href) ?? [];
    out.name = object.name?.toString() ?? null;
    out.content = object.content?.toString() ?? null;
    out.url = object.url?.href ?? null;
    out.sensitive = object.sensitive ?? null;
    out.inReplyTo = object.replyTargetId?.href ?? null;
    out.audience = object.audienceIds?.map((u) => u.href) ?? [];
    out.to = object.toIds?.map((u) => u.href) ?? [];
    out.cc = object.ccIds?.map((u) => u.href) ?? [];
  }
  return out;
}

async function lookup(flags) {
  if (flags.positional.length < 1) fail("lookup needs at least one URL");
  const documentLoader = await getDocumentLoader({ allowPrivateAddress: true });
  const contextLoader = documentLoader;
  let loader = documentLoader;
  let server;
  if (flags.authorizedFetch) {
    if (!flags.listen || !flags.origin) fail("--authorized-fetch needs --listen and --origin");
    const origin = new URL(flags.origin);
    const key = await generateCryptoKeyPair();
    const actor = new Application({
      id: origin,
      preferredUsername: origin.hostname,
      publicKey: new CryptographicKey({
        id: new URL("#main-key", origin),
        owner: origin,
        publicKey: key.publicKey,
      }),
      manuallyApprovesFollowers: true,
      inbox: new URL("/inbox", origin),
      outbox: new URL("/outbox", origin),
    });
    const actorJson = JSON.stringify(await actor.toJsonLd({ contextLoader }));
    server = await serve(flags.listen, origin, (request) => {
      emit({
        event: "signer-fetched",
        path: new URL(request.url).pathname,
        signed: request.headers.has("signature"),
      });
      return new Response(actorJson, { headers: { "Content-Type": "application/activity+json" } });
    });
    const firstKnock = flags["first-knock"] ?? "draft-cavage-http-signatures-12";
    loader = getAuthenticatedDocumentLoader(
      { keyId: new URL("#main-key", origin), privateKey: key.privateKey },
      {
        allowPrivateAddress: true,
        specDeterminer: {
          determineSpec: () => firstKnock,
          rememberSpec: (origin, spec) => emit({ event: "spec-remembered", origin, spec }),
        },
      },
    );
  }
  let ok = true;
  for (const url of flags.positional) {
    try {
      const object = await lookupObject(url, { documentLoader: loader, contextLoader });
      if (object == null) ok = false;
      emit({
        event: "lookup",
        url,
        found: object != null,
        object: await describe(object, { documentLoader: loader, contextLoader }),
        compact: object == null ? null : await object.toJsonLd({ format: "compact", contextLoader }),
      });
    } catch (error) {
      ok = false;
      emit({ event: "lookup", url, found: false, error: String(error) });
    }
  }
  server?.close();
  process.exit(ok ? 0 : 1);
}

async function inbox(flags) {
  if (!flags.listen || !flags.origin || !flags.follow) fail("inbox needs --listen, --origin and --follow");
  const origin = new URL(flags.origin);
  const federation = createFederation({
    kv: new MemoryKvStore(),
    allowPrivateAddress: true,
    skipSignatureVerification: false,
  });
  const keyPairs = {};
  federation
    .setActorDispatcher("/{identifier}", async (ctx, identifier) => {
      if (identifier !== "i" && identifier !== "ia") return null;
      const pairs = await ctx.getActorKeyPairs(identifier);
      return new Application({
        id: ctx.getActorUri(identifier),
        preferredUsername: identifier,
        name: identifier === "ia" ? "Instance Actor" : "Fedify Ephemeral Inbox",
        inbox: ctx.getInboxUri(identifier),
        endpoints: new Endpoints({ sharedInbox: ctx.getInboxUri() }),
        followers: ctx.getFollowersUri(identifier),
        following: ctx.getFollowingUri(identifier),
        outbox: ctx.getOutboxUri(identifier),
        manuallyApprovesFollowers: true,
        publicKey: pairs[0].cryptographicKey,
        assertionMethods: pairs.map((pair) => pair.multikey),
        url: ctx.getActorUri(identifier),
      });
    })
    .setKeyPairsDispatcher(async (_ctx, identifier) => {
      if (identifier !== "i" && identifier !== "ia") return [];
      keyPairs[identifier] ??= [
        await generateCryptoKeyPair("RSASSA-PKCS1-v1_5"),
        await generateCryptoKeyPair("Ed25519"),
      ];
      return keyPairs[identifier];
    });
  // What the CLI's inbox tells about itself, so the node treats this inbox
  // as it would treat the CLI's.
  federation.setNodeInfoDispatcher("/nodeinfo/2.1", () => ({
    software: { name: "fedify-cli", version: fedifyVersion },
    protocols: ["activitypub"],
    usage: { users: { total: 1, activeMonth: 1, activeHalfyear: 1 }, localPosts: 0, localComments: 0 },
  }));
  federation.setFollowersDispatcher("/{identifier}/followers", () => ({ items: [] }));
  federation.setFollowingDispatcher("/{identifier}/following", () => ({ items: [] }));
  federation.setOutboxDispatcher("/{identifier}/outbox", () => ({ items: [] }));
  federation
    .setInboxListeners("/{identifier}/inbox", "/inbox")
    .setSharedKeyDispatcher(() => ({ identifier: "ia" }))
    .on(Activity, async (ctx, activity) => {
      const loaders = { documentLoader: ctx.documentLoader, contextLoader: ctx.contextLoader };
      // Read before anything is dereferenced.
      const received = {
        type: activity.constructor.name,
        id: activity.id?.href ?? null,
        actor: activity.actorId?.href ?? null,
        object: activity.objectId?.href ?? null,
        // What was posted, as sent (the listener runs only once Fedify has
        // verified its signature).
        body: JSON.parse(ctx.data.body),
      };
      // What Fedify makes of the object, dereferencing it as an app would
      // (Announce → Note; an object embedded from another origin, such as
      // the Follow in an Accept, is fetched again by its id).
      const chain = [activity.constructor.name];
      let innermost = activity;
      while (innermost instanceof Activity && chain.length < 4) {
        const next = await innermost.getObject(loaders);
        if (next == null) break;
        chain.push(next.constructor.name);
        innermost = next;
      }
      emit({
        event: "activity",
        ...received,
        chain,
        innermost: innermost === activity ? null : await describe(innermost, loaders),
      });
    })
    .onError((_ctx, error) => emit({ event: "inbox-error", message: String(error) }));

  await serve(flags.listen, origin, async (request, body) => {
    const response = await federation.fetch(request, { contextData: { body: body.toString("utf8") } });
    if (request.method === "POST") {
      let type = null;
      try {
        type = JSON.parse(body.toString("utf8")).type ?? null;
      } catch {
        // Not JSON: Fedify has answered it.
      }
      emit({
        event: "post",
        path: new URL(request.url).pathname,
        type,
        status: response.status,
        signature: request.headers.get("signature"),
      });
    }
    return response;
  });
  const ctx = federation.createContext(origin, { body: "null" });
  emit({ event: "listening", actor: ctx.getActorUri("i").href });
  const documentLoader = await ctx.getDocumentLoader({ identifier: "i" });
  const target = await lookupObject(flags.follow, { documentLoader, contextLoader: ctx.contextLoader });
  if (!isActor(target)) fail(`not an actor: ${flags.follow}`);
  const follow = new Follow({
    id: new URL(`#follows/${target.id?.href}`, ctx.getActorUri("i")),
    actor: ctx.getActorUri("i"),
    object: target.id,
  });
  await ctx.sendActivity({ identifier: "i" }, target, follow);
  emit({
    event: "followed",
    id: follow.id.href,
    target: await describe(target, { documentLoader, contextLoader: ctx.contextLoader }),
  });
}

const [command, ...rest] = process.argv.slice(2);
const flags = parseArgs(rest);
if (command === "lookup") await lookup(flags);
else if (command === "inbox") await inbox(flags);
else fail(`unknown command ${command}; use lookup or inbox`);
