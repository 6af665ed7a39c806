// Connect-account form: show only the marketplaces of the chosen region.
// Without JavaScript every region is shown and the server rejects a mismatch.
document.addEventListener("DOMContentLoaded", () => {
  const region = document.querySelector("select[data-filters]");
  if (!region) return;
  const groups = document.getElementById(region.dataset.filters);
  const apply = () => {
    for (const set of groups.querySelectorAll("fieldset[data-region]")) {
      set.hidden = Boolean(region.value) && set.dataset.region !== region.value;
    }
  };
  region.addEventListener("change", apply);
  apply();
});
