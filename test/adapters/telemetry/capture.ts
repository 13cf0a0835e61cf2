/**
 * A loopback stand-in for the Application Insights ingestion endpoint (HTTPS with a self-signed
 * certificate made by the openssl CLI), and a loopback HTTP proxy that records and refuses every CONNECT,
 * so that whatever the SDK tries to reach elsewhere is seen here and never leaves the machine.
 */
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import http from "node:http";
import https from "node:https";
import type { AddressInfo } from "node:net";
import path from "node:path";
import zlib from "node:zlib";

export interface Envelope {
  name: string;
  time: string;
  iKey: string;
  tags: Record<string, string>;
  data: {
    baseType: string;
    baseData: Record<string, unknown> & { name?: string; properties?: Record<string, string>; measurements?: Record<string, number> };
  };
}

export interface Capture {
  /** `https://127.0.0.1:<port>/` */
  url: string;
  envelopes: Envelope[];
  requests: { method: string; path: string; authorization?: string }[];
  /** `http://127.0.0.1:<port>`: the proxy for HTTPS_PROXY / HTTP_PROXY. */
  proxyUrl: string;
  /** CONNECT targets the proxy refused. */
  connects: string[];
  close(): Promise<void>;
}

/** A self-signed certificate for 127.0.0.1 (and localhost), written to `dir`. */
export function selfSignedCertificate(dir: string): { certFile: string; keyFile: string } {
  const certFile = path.join(dir, "capture-cert.pem");
  const keyFile = path.join(dir, "capture-key.pem");
  try {
    execFileSync(
      "openssl",
      [
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        keyFile,
        "-out",
        certFile,
        "-days",
        "1",
        "-subj",
        "/CN=127.0.0.1",
        "-addext",
        "subjectAltName=IP:127.0.0.1,DNS:localhost",
      ],
      { stdio: "pipe" },
    );
  } catch (err) {
    throw new Error(`The capture server needs the openssl CLI to make its certificate: ${(err as Error).message}`, { cause: err });
  }
  return { certFile, keyFile };
}

function listen(server: http.Server): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve((server.address() as AddressInfo).port));
  });
}

export async function startCapture(tls: { certFile: string; keyFile: string }): Promise<Capture> {
  const envelopes: Envelope[] = [];
  const requests: Capture["requests"] = [];
  const connects: string[] = [];
  const ingestion = https.createServer({ cert: fs.readFileSync(tls.certFile), key: fs.readFileSync(tls.keyFile) }, (req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      requests.push({ method: req.method ?? "", path: req.url ?? "", authorization: req.headers.authorization });
      let body = Buffer.concat(chunks);
      if (req.headers["content-encoding"] === "gzip") body = zlib.gunzipSync(body);
      const text = body.toString("utf8").trim();
      let items: Envelope[] = [];
      if (text) items = text.startsWith("[") ? JSON.parse(text) : text.split("\n").map((l) => JSON.parse(l));
      if (req.url?.startsWith("/v2.1/track") || req.url?.startsWith("/v2/track")) envelopes.push(...items);
      res.writeHead(200, { "content-type": "application/json" });
      res.end(JSON.stringify({ itemsReceived: items.length, itemsAccepted: items.length, errors: [] }));
    });
  });
  const proxy = http.createServer((req, res) => {
    connects.push(`${req.method} ${req.url}`);
    res.writeHead(403).end();
  });
  proxy.on("connect", (req, socket) => {
    connects.push(String(req.url));
    socket.end("HTTP/1.1 403 Forbidden\r\n\r\n");
  });
  const port = await listen(ingestion);
  const proxyPort = await listen(proxy);
  return {
    url: `https://127.0.0.1:${port}/`,
    envelopes,
    requests,
    proxyUrl: `http://127.0.0.1:${proxyPort}`,
    connects,
    close: async () => {
      ingestion.closeAllConnections();
      proxy.closeAllConnections();
      await Promise.all([new Promise((r) => ingestion.close(r)), new Promise((r) => proxy.close(r))]);
    },
  };
}
