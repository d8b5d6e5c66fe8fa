// A list being verified: ask how far it is every second, show it, and open the
// list's own page once the results are all there. Without this script, the page's
// link does it.
const section = document.getElementById("progress");
const bar = document.getElementById("progress-bar");
const done = document.getElementById("progress-done");

async function poll() {
  try {
    const answer = await fetch(section.dataset.status, {
      headers: { Accept: "application/json" },
      cache: "no-store",
    });
    if (answer.ok) {
      const status = await answer.json();
      bar.max = status.rows;
      bar.value = status.done;
      bar.textContent = `${status.done} / ${status.rows}`;
      done.textContent = String(status.done);
      if (status.state !== "running") {
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
