// A print button for pages that print well (the print stylesheet does the rest);
// without this script the browser's own print command works the same.
for (const button of document.querySelectorAll("[data-print]")) {
  button.hidden = false;
  button.addEventListener("click", () => window.print());
}
