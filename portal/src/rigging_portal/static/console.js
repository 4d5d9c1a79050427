// The publisher console's enhancements: drag-and-drop of a folder or archive into the upload form,
// and the live Markdown preview. Without them the file inputs and the result page work as they are.
// No inline handlers or styles anywhere: the CSP forbids them.
(function () {
  "use strict";

  function isArchive(name) {
    return /\.(tar\.gz|tgz)$/i.test(name);
  }

  // Every file under a dropped directory entry, with its path relative to the drop.
  function walk(entry, into) {
    return new Promise(function (resolve, reject) {
      if (entry.isFile) {
        entry.file(function (file) {
          into.push({ file: file, path: entry.fullPath.replace(/^\/+/, "") });
          resolve();
        }, reject);
        return;
      }
      if (!entry.isDirectory) { resolve(); return; }
      var reader = entry.createReader();
      var children = [];
      // readEntries answers in batches (100 in Chromium) until it answers an empty one
      (function more() {
        reader.readEntries(function (batch) {
          if (!batch.length) {
            Promise.all(children.map(function (child) { return walk(child, into); })).then(resolve, reject);
            return;
          }
          children = children.concat(Array.prototype.slice.call(batch));
          more();
        }, reject);
      })();
    });
  }

  function submitWith(form, button) {
    if (form.requestSubmit) { form.requestSubmit(button); } else { button.click(); }
  }

  function wireUpload(form) {
    var zone = form.querySelector("[data-dropzone]");
    var folder = form.querySelector("[data-upload-folder]");
    var archive = form.querySelector("[data-upload-archive]");
    var paths = form.querySelector("[data-upload-paths]");
    var check = form.querySelector("[data-upload-check]");
    if (!zone || !folder || !archive || !paths || !check || typeof DataTransfer === "undefined") { return; }
    zone.hidden = false;

    folder.addEventListener("change", function () {
      // a chosen folder's files know their paths; send them as a dropped folder's are sent
      paths.value = Array.prototype.map.call(folder.files, function (f) {
        return f.webkitRelativePath || f.name;
      }).join("\n");
      archive.value = "";
    });
    archive.addEventListener("change", function () { folder.value = ""; paths.value = ""; });

    ["dragenter", "dragover"].forEach(function (type) {
      zone.addEventListener(type, function (event) {
        event.preventDefault();
        zone.classList.add("over");
      });
    });
    zone.addEventListener("dragleave", function () { zone.classList.remove("over"); });
    zone.addEventListener("drop", function (event) {
      event.preventDefault();
      zone.classList.remove("over");
      var items = Array.prototype.slice.call(event.dataTransfer.items || []);
      var entries = items.map(function (item) {
        return item.webkitGetAsEntry ? item.webkitGetAsEntry() : null;
      }).filter(Boolean);
      var dropped = event.dataTransfer.files;
      if (entries.length === 1 && entries[0].isFile && dropped.length === 1 && isArchive(dropped[0].name)) {
        var one = new DataTransfer();
        one.items.add(dropped[0]);
        archive.files = one.files;
        folder.value = "";
        paths.value = "";
        submitWith(form, check);
        return;
      }
      var found = [];
      Promise.all(entries.map(function (entry) { return walk(entry, found); })).then(function () {
        if (!found.length) { return; }
        var all = new DataTransfer();
        found.forEach(function (item) { all.items.add(item.file); });
        folder.files = all.files;
        archive.value = "";
        // the files' own names carry no folders, so their paths go alongside, one a line, in order
        paths.value = found.map(function (item) { return item.path; }).join("\n");
        submitWith(form, check);
      });
    });
  }

  function wirePreview(source, token) {
    var target = document.getElementById(source.getAttribute("data-preview-target"));
    if (!target || !window.fetch) { return; }
    var timer = null;
    var asked = 0;
    source.addEventListener("input", function () {
      clearTimeout(timer);
      timer = setTimeout(function () {
        var mine = ++asked;
        fetch("/console/preview", {
          method: "POST",
          credentials: "same-origin",
          headers: { "Content-Type": "application/json", "X-CSRF-Token": token },
          body: JSON.stringify({ text: source.value })
        }).then(function (response) {
          return response.ok ? response.json() : null;
        }).then(function (answer) {
          // a slower earlier answer must not replace a newer one
          if (!answer || mine !== asked) { return; }
          // The server's HTML went through markdown-it without raw HTML and then nh3's allowlist
          // (rigging_portal.render.markdown), so it is safe to insert as markup.
          target.innerHTML = answer.html;
        }).catch(function () { /* the last preview stays */ });
      }, 300);
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("form[action='/console/upload']").forEach(wireUpload);
    var meta = document.querySelector("meta[name='csrf-token']");
    var token = meta ? meta.getAttribute("content") : "";
    if (token) {
      document.querySelectorAll("textarea[data-preview-target]").forEach(function (source) {
        wirePreview(source, token);
      });
    }
  });
})();
