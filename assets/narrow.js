// Collapse the sidebar once per browser tab when the window is narrow (< data.below px, e.g. 800 px), so
// the pages keep their width. Streamlit's own "auto" only collapses below its 768-px breakpoint. Runs
// inline (st.components.v2, no iframe); a missing button (another Streamlit version) changes nothing.
export default function (component) {
  const below = (component.data && component.data.below) || 1000;
  try {
    if (window.sessionStorage.getItem("mmcse.sidebarChecked")) return;
    window.sessionStorage.setItem("mmcse.sidebarChecked", "1");
  } catch (error) { /* storage blocked: check on every load */ }
  if (window.innerWidth >= below) return;
  const collapse = (triesLeft) => {
    const sidebar = document.querySelector('[data-testid="stSidebar"]');
    const button = document.querySelector('[data-testid="stSidebarCollapseButton"] button');
    if (sidebar && sidebar.getAttribute("data-collapsed") === "true") return;
    if (sidebar && button) { button.click(); return; }
    if (triesLeft > 0) setTimeout(() => collapse(triesLeft - 1), 250);
  };
  collapse(40);
}
