// A certificate's page: check the credential in this browser, not on the server's word.
// The page works without this script (it shows what the server says); the script
// adds the verdict, worked out here from the proof bundle and the trust list.
import { canonicalize, checkCredentialBundle, checkHolder } from "./verify.js";

const section = document.getElementById("check");
const title = document.getElementById("check-title");
const details = document.getElementById("check-details");
const list = document.getElementById("check-list");
const texts = document.getElementById("texts").content;
const text = (key) => texts.querySelector(`[data-key="${key}"]`)?.textContent ?? key;
const fragment = new URLSearchParams(window.location.hash.slice(1));

function show(kind, message) {
  section.classList.remove("good", "warn", "bad");
  section.classList.add(kind);
  title.textContent = message;
}

function listChecks(checks) {
  list.replaceChildren(
    ...checks.map((check) => {
      const item = document.createElement("li");
      const name = text(`check-${check.name}`);
      item.textContent = `${check.ok ? "✓" : "✗"} ${name}${check.detail ? "（" + check.detail + "）" : ""}`;
      item.dataset.ok = String(check.ok);
      return item;
    }),
  );
  details.hidden = false;
}

function base64url(bytes) {
  let binary = "";
  for (const byte of bytes) binary += String.fromCharCode(byte);
  return btoa(binary).replaceAll("+", "-").replaceAll("/", "_").replace(/=+$/, "");
}

async function digestCheck(credential) {
  // The QR code's digest (in the fragment, never sent): the credential must be that one.
  const expected = fragment.get("h");
  if (!expected) return null;
  const bytes = new TextEncoder().encode(canonicalize(credential));
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
  const ok = base64url(digest) === expected;
  return { name: "QR digest", ok, detail: ok ? "" : "the credential is not the one the QR code names" };
}

async function fetchJson(path) {
  const answer = await fetch(path, { headers: { Accept: "application/json" } });
  if (!answer.ok) throw new Error(`${path}: ${answer.status}`);
  return answer.json();
}

async function main() {
  const began = performance.now();
  if (!window.crypto?.subtle) {
    show("warn", text("cannot"));
    return;
  }
  const id = section.dataset.credential;
  let checks;
  let bundle;
  try {
    const [proof, trust, chain] = await Promise.all([
      fetchJson(`/v1/credentials/${encodeURIComponent(id)}/proof`),
      fetchJson("/v1/trust-list"),
      fetchJson("/v1/trust-list/chain"),
    ]);
    bundle = proof;
    // The trust list, walked from the genesis the federation pinned: not as served.
    const genesis = section.dataset.genesis;
    checks = await checkCredentialBundle(bundle, trust, new Date(), { chain, genesis });
    const qr = await digestCheck(bundle.credential);
    if (qr) checks.push(qr);
  } catch (error) {
    checks = [{ name: "fetch", ok: false, detail: String(error) }];
  }
  listChecks(checks);
  const state = text("state");
  if (!checks.every((check) => check.ok)) {
    show("bad", text("bad"));
    details.open = true; // say at once which check failed
  } else if (state && state !== "active" && state !== "listed") {
    show("warn", text("inactive"));
  } else {
    show("good", text("good"));
  }
  // How long the checks took here, fetching included (bench/pages.py reads it).
  section.dataset.ms = String(Math.round(performance.now() - began));
  section.dataset.done = checks.every((check) => check.ok) ? "valid" : "invalid";
  offerHolderCheck(bundle);
}

function offerHolderCheck(bundle) {
  const disclosure = fragment.get("d");
  if (!disclosure || !bundle?.credential) return;
  const holder = document.getElementById("holder");
  const result = document.getElementById("holder-result");
  holder.hidden = false;
  document.getElementById("holder-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const number = document.getElementById("id-number").value;
    let theirs = false;
    try {
      await checkHolder(bundle.credential, number, disclosure);
      theirs = true;
    } catch {
      theirs = false;
    }
    result.textContent = theirs ? text("theirs") : text("not-theirs");
    result.className = theirs ? "alert good" : "alert bad";
  });
}

main();
