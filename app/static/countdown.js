// Live countdowns: elements with data-due (ISO UTC) tick every 30 s; without JS the server text stays.
(function () {
  function fmt(ms) {
    var s = Math.abs(Math.floor(ms / 1000)), d = Math.floor(s / 86400), h = Math.floor(s % 86400 / 3600),
        m = Math.floor(s % 3600 / 60);
    return d ? d + " d " + h + " h" : h ? h + " h " + m + " min" : m + " min";
  }
  function tick() {
    var now = Date.now();
    document.querySelectorAll("[data-due]").forEach(function (el) {
      var left = Date.parse(el.getAttribute("data-due")) - now;
      var warn = parseFloat(el.getAttribute("data-warn-hours") || "6") * 3600000;
      el.textContent = left >= 0 ? "in " + fmt(left) : "overdue by " + fmt(left);
      el.classList.remove("u-ok", "u-soon", "u-overdue");
      el.classList.add(left < 0 ? "u-overdue" : left <= warn ? "u-soon" : "u-ok");
    });
    document.querySelectorAll("time[data-local]").forEach(function (el) {
      if (el.dataset.done) return;
      var d = new Date(el.getAttribute("datetime"));
      el.title = el.textContent.trim() + " (UTC)";
      el.textContent = d.toLocaleString([], {year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit",
        minute: "2-digit", timeZoneName: "short"});
      el.dataset.done = "1";
    });
    var tz = document.querySelectorAll("select[name=timezone][data-default-browser]");
    tz.forEach(function (sel) {
      if (sel.dataset.done) return;
      var zone = Intl.DateTimeFormat().resolvedOptions().timeZone;
      for (var i = 0; i < sel.options.length; i++) if (sel.options[i].value === zone) sel.value = zone;
      sel.dataset.done = "1";
    });
  }
  document.addEventListener("DOMContentLoaded", function () { tick(); setInterval(tick, 30000); });
})();
