// A list being verified, or an import being checked or issued: ask how far it is
// every second, show it, and open the page of the results once that is over. Without
// this script, the page's link (and its refresh) does it.
const section = document.getElementById("progress");
const bar = document.getElementById("progress-bar");
const done = document.getElementById("progress-done");
const rows = document.getElementById("progress-rows");
const ongoing = new Set(["running", "checking"]);

async function poll() {
  try {
    const answer = await fetch(section.dataset.status, {
      headers: { Accept: "application/json" },
      cache: "no-store",
    });
    if (answer.ok) {
      const status = await answer.json();
      if (status.rows > 0) {
        bar.max = status.rows;
        bar.value = status.done;
        bar.textContent = `${status.done} / ${status.rows}`;
      } else {
        bar.removeAttribute("value"); // the file is still being read: how long, unknown
      }
      done.textContent = String(status.done);
      if (rows) {
        rows.textContent = status.rows > 0 ? String(status.rows) : "…";
      }
      if (!ongoing.has(status.state)) {
        window.location.assign(section.dataset.results);
        return;
      }
    }
  } catch {
    // The node may be busy: ask again.
  }
  window.setTimeout(poll, 700);
}

if (section && section.dataset.status) {
  window.setTimeout(poll, 500);
}
