"use strict";
/*
 * Drives the emulator with Microsoft's JavaScript Graph client, a client
 * no one here wrote, so that what it takes from the emulator (paging,
 * errors, retries, upload sessions, download redirects) is checked by a
 * reading of the API other than ours. tests/test_graph_sdk.py runs it:
 *
 *   node drive.js SCENARIO JSON
 *
 * JSON holds "base" (the emulator's https URL), "apiHost" (the host name
 * the client may send its token to, as it does to graph.microsoft.com),
 * "token", and the scenario's own arguments. One JSON line goes to
 * stdout; the exit status is 2 only when the driver itself broke.
 */
const crypto = require("crypto");
const dns = require("dns");
const fs = require("fs");
const graph = require("@microsoft/microsoft-graph-client");

/* The emulator listens on 127.0.0.1 and names its upload URLs localhost,
   which Debian's hosts file also gives ::1, tried first; Node 18 does not
   fall back to the next address as curl does. */
dns.setDefaultResultOrder("ipv4first");

function clientOf(a) {
  return graph.Client.initWithMiddleware({
    baseUrl: a.base + "/",
    defaultVersion: a.version || "v1.0",
    customHosts: new Set([a.apiHost]),
    authProvider: { getAccessToken: async () => a.token },
  });
}

/* A GraphError, or what the client threw instead (a raw reply's body). */
function errorOf(e) {
  if (e instanceof graph.GraphError) {
    return { kind: "GraphError", statusCode: e.statusCode, code: e.code,
             message: e.message, requestId: e.requestId,
             date: e.date ? e.date.toISOString() : null };
  }
  return { kind: e && e.constructor ? e.constructor.name : typeof e,
           text: String(e && e.message ? e.message : JSON.stringify(e)) };
}

async function attempt(fn) {
  const started = Date.now();
  try {
    const out = await fn();
    return Object.assign({ ok: true, ms: Date.now() - started }, out);
  } catch (e) {
    return { ok: false, ms: Date.now() - started, error: errorOf(e) };
  }
}

const scenarios = {
  /* Every element of a collection, following @odata.nextLink. */
  async pages(client, a) {
    const ids = [];
    const first = await client.api(a.path).get();
    const it = new graph.PageIterator(client, first, (item) => {
      ids.push(item.id);
      return true;
    });
    await it.iterate();
    return { ids, complete: it.isComplete() };
  },

  async call(client, a) {
    const req = client.api(a.path);
    const body = a.method === "get" || a.method === "delete"
      ? await req[a.method]() : await req[a.method](a.body);
    return { body: body === undefined ? null : body };
  },

  /* The reply itself: its status and the headers asked for. */
  async raw(client, a) {
    const req = client.api(a.path).responseType(graph.ResponseType.RAW);
    const reply = a.method === "get" || a.method === "delete"
      ? await req[a.method]() : await req[a.method](a.body);
    const headers = {};
    for (const name of a.headers || [])
      headers[name] = reply.headers.get(name);
    return { status: reply.status, headers, text: await reply.text() };
  },

  /*
   * createUploadSession, then the byte ranges. With "firstSlices": N the
   * first N ranges go by one task, and a second task made from the session
   * alone resumes: it asks the session what is missing and sends that.
   */
  async upload(client, a) {
    const bytes = fs.readFileSync(a.file);
    const session = await graph.LargeFileUploadTask.createUploadSession(
      client, a.path, a.payload);
    const file = new graph.FileUpload(bytes, a.name, bytes.length);
    const ranges = [];
    const options = {
      rangeSize: a.rangeSize,
      uploadEventHandlers: {
        progress: (r) => ranges.push([r.minValue, r.maxValue]),
      },
    };
    let task = new graph.LargeFileUploadTask(client, file, session, options);
    let result;
    if (a.firstSlices) {
      for (let i = 0; i < a.firstSlices; i++) {
        const r = task.getNextRange();
        const reply = await task.uploadSlice(await file.sliceFile(r), r,
                                             bytes.length);
        ranges.push([r.minValue, r.maxValue]);
        task.updateTaskStatus(reply);
      }
      const resumed = { url: session.url, expiry: session.expiry,
                        isCancelled: false };
      task = new graph.LargeFileUploadTask(client, file, resumed, options);
      result = await task.resume();
    } else {
      result = await task.upload();
    }
    return { body: result.responseBody, ranges,
             uploadHost: new URL(session.url).hostname };
  },

  /* A session opened and cancelled; then its status is asked for. */
  async cancel(client, a) {
    const session = await graph.LargeFileUploadTask.createUploadSession(
      client, a.path, a.payload);
    const file = new graph.FileUpload(Buffer.alloc(a.payload.properties.size),
                                      "cancelled", a.payload.properties.size);
    const task = new graph.LargeFileUploadTask(client, file, session, {});
    const reply = await task.cancel();
    const after = await attempt(() => task.getStatus());
    return { status: reply.status,
             cancelled: task.getUploadSession().isCancelled, after };
  },

  /* A document's bytes through $value and its redirect. */
  async download(client, a) {
    const data = await client.api(a.path)
      .responseType(graph.ResponseType.ARRAYBUFFER).get();
    const buf = Buffer.from(data);
    return { size: buf.length,
             sha256: crypto.createHash("sha256").update(buf).digest("hex") };
  },
};

async function main() {
  const [, , name, json] = process.argv;
  const a = JSON.parse(json || "{}");
  if (!scenarios[name])
    throw new Error("no scenario " + name);
  const client = clientOf(a);
  return attempt(() => scenarios[name](client, a));
}

main().then(
  (r) => process.stdout.write(JSON.stringify(r) + "\n"),
  (e) => { console.error(e); process.exit(2); });
