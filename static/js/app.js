/* QM Coaching pages: the dialog that htmx fills, toasts, and the typeahead comboboxes.
 * No inline handlers and no eval: the Content-Security-Policy allows only this file and htmx. */
(function () {
  "use strict";

  var DEBOUNCE_MS = 200;
  var TOAST_MS = 4500;
  var modal = null;
  var modalBody = null;
  var opener = null; // the last control that asked for the dialog
  var returnTo = null; // the control the open dialog gives the focus back to
  var loadingModal = false; // a request is bringing the dialog's next content
  var toastTimer = null;

  function $(selector, root) { return (root || document).querySelector(selector); }
  function $all(selector, root) { return Array.prototype.slice.call((root || document).querySelectorAll(selector)); }

  // --- toasts ---------------------------------------------------------------------------------
  function toast(message) {
    var el = $("#toast");
    if (!el || !message) return;
    el.textContent = message;
    el.classList.add("show");
    clearTimeout(toastTimer);
    toastTimer = setTimeout(function () { el.classList.remove("show"); el.textContent = ""; }, TOAST_MS);
  }

  // --- the dialog -----------------------------------------------------------------------------
  function movedInto(root, focusAtSwap) {
    // Someone who moved into the new content between the swap and its settling (a quick typist,
    // a screen reader, a test driver) keeps their place: pulling the focus away then would send
    // their keys to another field.
    var active = document.activeElement;
    return focusAtSwap !== undefined && active !== focusAtSwap && active !== root && root.contains(active);
  }

  function focusInitial(root) {
    var target =
      $("[aria-invalid='true']", root) ||
      $("[data-error-summary]", root) ||
      $("input:not([type=hidden]):not([disabled]), select:not([disabled]), textarea:not([disabled])", root) ||
      $(".form-actions button, .form-actions a", root);
    if (target) target.focus();
  }

  function focusHeading(root) {
    var heading = root && $("h1, h2", root);
    if (!heading) return false;
    heading.setAttribute("tabindex", "-1");
    heading.focus();
    return true;
  }

  function openModal() {
    if (modal && !modal.open) {
      returnTo = opener;
      modal.showModal();
    }
  }

  function closeModal() {
    if (modal && modal.open) modal.close();
  }

  function onModalClosed() {
    // The close event comes a task later: by then another dialog may be opening, or its content
    // already swapped in and waiting to settle (emptying it now would leave the dialog closed).
    if (modal.open || loadingModal) return;
    // Empty it so a stale form never flashes on the next opening, then give focus back, unless
    // the person has already moved on to another control.
    modalBody.innerHTML = "";
    var target = returnTo;
    returnTo = null;
    var active = document.activeElement;
    if (active && active !== document.body && active !== target && !modal.contains(active)) return;
    if (target && document.body.contains(target)) target.focus();
    else focusHeading($("#coaching-widget")) || focusHeading($("main"));
  }

  function openPickerIn(root) {
    return $all("[data-listbox]", root).some(function (list) { return !list.hidden; });
  }

  // --- htmx wiring ----------------------------------------------------------------------------
  document.addEventListener("htmx:beforeRequest", function (evt) {
    // Only a request that brings a new dialog (one submitted from the open dialog may close it,
    // and that close must still empty it and give the focus back).
    if (evt.detail.target === modalBody && !modal.open) loadingModal = true;
  });
  document.addEventListener("htmx:afterRequest", function (evt) {
    // A failed or aborted request brings nothing to open; a successful one opens on settle.
    if (evt.detail.target === modalBody && !evt.detail.successful) loadingModal = false;
  });
  document.addEventListener("htmx:beforeSwap", function (evt) {
    var target = evt.detail.target;
    if (!target || !evt.detail.xhr) return;
    var host = null;
    if (target === modalBody) host = modalBody;
    else if (target.matches && target.matches("[data-dialog-content]")) host = target.parentElement;
    evt.detail.xhr._dialogHost = host;
    // A region refreshed under the focus (the widget after a change, the inbox after "Mark as
    // read") must not drop the focus to the page's start: it goes to the new region's heading.
    var active = document.activeElement;
    evt.detail.xhr._focusIn = !host && target.id && active && active !== document.body && target.contains(active) ? target.id : null;
  });

  document.addEventListener("htmx:afterSwap", function (evt) {
    if (evt.detail.xhr) evt.detail.xhr._focusAtSwap = document.activeElement;
  });

  document.addEventListener("htmx:afterSettle", function (evt) {
    var lostIn = evt.detail.xhr && evt.detail.xhr._focusIn;
    if (lostIn) {
      evt.detail.xhr._focusIn = null;
      var active = document.activeElement;
      if (!active || active === document.body || !document.body.contains(active)) focusHeading(document.getElementById(lostIn));
    }
    var host = evt.detail.xhr && evt.detail.xhr._dialogHost;
    if (!host) return;
    evt.detail.xhr._dialogHost = null;
    var keep = movedInto(host, evt.detail.xhr._focusAtSwap);
    if (host === modalBody || modalBody.contains(host)) {
      loadingModal = false;
      if (!modalBody.children.length) return;
      openModal();
    }
    if (!keep) focusInitial(host);
  });

  // "Show more": the next cards replace the button's list item; keyboard focus moves to the
  // first new card and the status line says how many came, so nobody is left on a removed button.
  document.addEventListener("htmx:beforeSwap", function (evt) {
    var target = evt.detail.target;
    if (!target || !evt.detail.xhr || !target.matches || !target.matches("[data-more-item]")) return;
    var list = target.parentElement;
    evt.detail.xhr._more = { list: list, index: Array.prototype.indexOf.call(list.children, target) };
  });
  document.addEventListener("htmx:afterSettle", function (evt) {
    var more = evt.detail.xhr && evt.detail.xhr._more;
    if (!more) return;
    evt.detail.xhr._more = null;
    var first = more.list.children[more.index];
    var link = first && first.querySelector("h4 a");
    if (link) link.focus();
    var status = $("[data-widget-status]");
    if (status) {
      var added = more.list.querySelectorAll(":scope > li:not([data-more-item])").length;
      status.textContent = "";
      setTimeout(function () { status.textContent = added + " sessions shown."; }, 30);
    }
  });

  document.addEventListener("htmx:responseError", function () {
    toast("Something went wrong. Please try again.");
  });
  document.addEventListener("htmx:sendError", function () {
    toast("The server could not be reached. Check your connection and try again.");
  });

  document.addEventListener("coaching:changed", function (evt) {
    var detail = evt.detail || {};
    var inModal = modal && modal.open;
    if (inModal) {
      closeModal();
      toast(detail.message);
    } else if (detail.url && $("main [data-dialog-content]")) {
      // The form on its own page (no dialog): go where the change can be seen.
      window.location.assign(detail.url);
    } else {
      toast(detail.message);
    }
  });

  document.addEventListener("notifications:changed", function (evt) {
    toast((evt.detail || {}).message);
  });

  document.addEventListener("click", function (evt) {
    var trigger = evt.target.closest("[data-opens-modal]");
    if (trigger) opener = trigger;
    if (evt.target.closest("[data-close-modal]")) {
      evt.preventDefault();
      closeModal();
    }
  });

  // --- typeahead comboboxes (ARIA 1.2 combobox with listbox popup) ----------------------------
  var state = new WeakMap();
  function stateOf(picker) {
    var s = state.get(picker);
    if (!s) {
      s = { timer: null, controller: null, active: -1 };
      state.set(picker, s);
    }
    return s;
  }
  function parts(picker) {
    return {
      input: $("[data-picker-input]", picker),
      list: $("[data-listbox]", picker),
      chips: $("[data-chips]", picker),
      status: $("[data-picker-status]", picker),
      label: ($("label", picker) || {}).firstChild ? $("label", picker).firstChild.textContent.trim() : "",
    };
  }
  function options(picker) { return $all("[role=option]", parts(picker).list); }
  function tokens(picker) { return $all("[data-chips] [data-token]", picker).map(function (c) { return c.getAttribute("data-token"); }); }
  function announce(picker, text) {
    var status = parts(picker).status;
    status.textContent = "";
    // A fresh text node is announced even when the words repeat.
    setTimeout(function () { status.textContent = text; }, 30);
  }

  // The duplicate warning listens for a change of the picked trainees ("picker:trainees-changed").
  function changed(picker) {
    picker.dispatchEvent(new CustomEvent("picker:" + picker.getAttribute("data-name") + "-changed", { bubbles: true }));
  }

  function setOpen(picker, open) {
    var p = parts(picker);
    p.list.hidden = !open;
    p.input.setAttribute("aria-expanded", open ? "true" : "false");
    if (!open) {
      p.input.removeAttribute("aria-activedescendant");
      stateOf(picker).active = -1;
    }
  }

  function setActive(picker, index) {
    var opts = options(picker);
    var p = parts(picker);
    var s = stateOf(picker);
    if (!opts.length) return;
    if (index < 0) index = opts.length - 1;
    if (index >= opts.length) index = 0;
    opts.forEach(function (o, i) { o.setAttribute("aria-selected", i === index ? "true" : "false"); });
    s.active = index;
    p.input.setAttribute("aria-activedescendant", opts[index].id);
    opts[index].scrollIntoView({ block: "nearest" });
  }

  function render(picker, html, query) {
    var p = parts(picker);
    var multiple = picker.hasAttribute("data-multiple");
    p.list.innerHTML = html;
    var picked = tokens(picker);
    options(picker).forEach(function (o, i) {
      if (multiple && picked.indexOf(o.getAttribute("data-token")) !== -1) {
        o.remove();
        return;
      }
      o.id = p.list.id + "-" + i;
    });
    var count = options(picker).length;
    stateOf(picker).active = -1;
    if (count) {
      setOpen(picker, true);
      announce(picker, count + (count === 1 ? " match" : " matches") + ". Use the up and down arrow keys to choose, Enter to pick.");
    } else {
      setOpen(picker, false);
      announce(picker, "No matches for “" + query + "”.");
    }
  }

  function search(picker) {
    var p = parts(picker);
    var s = stateOf(picker);
    var query = p.input.value.trim();
    clearTimeout(s.timer);
    if (!query) {
      if (s.controller) s.controller.abort();
      setOpen(picker, false);
      return;
    }
    s.timer = setTimeout(function () {
      if (s.controller) s.controller.abort();
      s.controller = new AbortController();
      var url = picker.getAttribute("data-source") + "?q=" + encodeURIComponent(query);
      fetch(url, { signal: s.controller.signal, credentials: "same-origin", headers: { "HX-Request": "true" } })
        .then(function (resp) {
          if (!resp.ok) throw new Error("HTTP " + resp.status);
          return resp.text();
        })
        .then(function (html) {
          if (p.input.value.trim() === query) render(picker, html, query);
        })
        .catch(function (err) {
          if (err.name !== "AbortError") announce(picker, "The search failed. Please try again.");
        });
    }, DEBOUNCE_MS);
  }

  function makeChip(picker, option) {
    var name = picker.getAttribute("data-name");
    var label = option.getAttribute("data-label");
    var kind = option.getAttribute("data-kind");
    var li = document.createElement("li");
    li.className = "chip chip-" + kind;
    li.setAttribute("data-token", option.getAttribute("data-token"));
    var hidden = document.createElement("input");
    hidden.type = "hidden";
    hidden.name = name;
    hidden.value = option.getAttribute("data-token");
    var span = document.createElement("span");
    span.className = "chip-label";
    span.textContent = label;
    li.appendChild(hidden);
    li.appendChild(span);
    if (kind === "group") {
      var tag = document.createElement("span");
      tag.className = "tag tag-group";
      tag.textContent = "Group";
      li.appendChild(tag);
    }
    var btn = document.createElement("button");
    btn.type = "button";
    btn.className = "chip-remove";
    btn.setAttribute("data-remove", "");
    btn.setAttribute("aria-label", "Remove " + label);
    btn.innerHTML = '<svg viewBox="0 0 16 16" aria-hidden="true" focusable="false"><path d="M4 4l8 8M12 4l-8 8"/></svg>';
    li.appendChild(btn);
    return li;
  }

  function choose(picker, option) {
    var p = parts(picker);
    var multiple = picker.hasAttribute("data-multiple");
    var token = option.getAttribute("data-token");
    if (!multiple) p.chips.innerHTML = "";
    if (tokens(picker).indexOf(token) === -1) {
      p.chips.appendChild(makeChip(picker, option));
      changed(picker);
    }
    p.input.value = "";
    setOpen(picker, false);
    p.input.focus();
    announce(picker, option.getAttribute("data-label") + (multiple ? " added to " : " picked as ") + p.label + ".");
  }

  document.addEventListener("input", function (evt) {
    var input = evt.target.closest && evt.target.closest("[data-picker-input]");
    if (input) search(input.closest("[data-picker]"));
  });

  document.addEventListener("keydown", function (evt) {
    var input = evt.target.closest && evt.target.closest("[data-picker-input]");
    if (!input) return;
    var picker = input.closest("[data-picker]");
    var p = parts(picker);
    var s = stateOf(picker);
    var open = !p.list.hidden;
    var opts = options(picker);
    switch (evt.key) {
      case "ArrowDown":
        evt.preventDefault();
        if (!open && opts.length) setOpen(picker, true);
        setActive(picker, s.active + 1);
        break;
      case "ArrowUp":
        evt.preventDefault();
        if (!open && opts.length) setOpen(picker, true);
        setActive(picker, s.active - 1);
        break;
      case "Home":
      case "End":
        if (open && opts.length) {
          evt.preventDefault();
          setActive(picker, evt.key === "Home" ? 0 : opts.length - 1);
        }
        break;
      case "Enter":
        // Enter in a search box picks; it never submits the form half-filled.
        evt.preventDefault();
        if (open && opts.length) choose(picker, opts[s.active >= 0 ? s.active : 0]);
        break;
      case "Escape":
        if (open) {
          evt.preventDefault();
          evt.stopPropagation();
          setOpen(picker, false);
        } else if (input.value) {
          evt.preventDefault();
          evt.stopPropagation();
          input.value = "";
        }
        break;
      case "Backspace":
        if (!input.value) {
          var chips = $all("[data-chips] .chip", picker);
          if (chips.length) {
            var last = chips[chips.length - 1];
            announce(picker, last.querySelector(".chip-label").textContent + " removed.");
            last.remove();
            changed(picker);
          }
        }
        break;
      case "Tab":
        setOpen(picker, false);
        break;
    }
  });

  // Picking with the pointer: mousedown keeps focus in the input.
  document.addEventListener("mousedown", function (evt) {
    var option = evt.target.closest && evt.target.closest("[data-listbox] [role=option]");
    if (!option) return;
    evt.preventDefault();
    choose(option.closest("[data-picker]"), option);
  });

  document.addEventListener("click", function (evt) {
    var remove = evt.target.closest && evt.target.closest("[data-remove]");
    if (!remove) return;
    var picker = remove.closest("[data-picker]");
    var chip = remove.closest(".chip");
    var label = chip.querySelector(".chip-label").textContent;
    chip.remove();
    parts(picker).input.focus();
    announce(picker, label + " removed.");
    changed(picker);
  });

  document.addEventListener("focusout", function (evt) {
    var picker = evt.target.closest && evt.target.closest("[data-picker]");
    if (!picker) return;
    if (evt.relatedTarget && picker.contains(evt.relatedTarget)) return;
    setOpen(picker, false);
  });

  // --- free times: a click puts the time in the form (without JavaScript the button submits the
  // form, which comes back with the time filled in) ---------------------------------------------
  document.addEventListener("click", function (evt) {
    var button = evt.target.closest && evt.target.closest("[data-slot]");
    if (!button) return;
    var form = button.form;
    var input = form && form.querySelector("[name=starts_at]");
    if (!input) return;
    evt.preventDefault();
    input.value = button.getAttribute("data-slot");
    $all("[data-slot]", form).forEach(function (b) { b.setAttribute("aria-pressed", b === button ? "true" : "false"); });
    var status = $("[data-slot-status]", form);
    if (status) status.textContent = "Date and time set to " + button.textContent.trim() + ".";
  });

  // --- a dialog sent after the sign-in ended ------------------------------------------------------
  // The server answers such a request by sending the browser to the login page (HX-Redirect),
  // announcing it first (coaching:login-required). What was typed in the dialog is kept in this
  // tab's sessionStorage and put back in the same dialog once the person is back on the page.
  var RESUME_KEY = "coaching:resume";

  function here() { return location.pathname + location.search; }

  document.addEventListener("coaching:login-required", function (evt) {
    var form = evt.target && evt.target.closest ? evt.target.closest("form") : null;
    if (!form || !modalBody || !modalBody.contains(form)) return;
    var saved = { page: here(), url: form.getAttribute("hx-post") || form.getAttribute("action"), fields: [], pickers: {} };
    $all("input, select, textarea", form).forEach(function (el) {
      if (!el.name || el.name === "csrfmiddlewaretoken" || el.closest("[data-chips]")) return;
      saved.fields.push([el.name, el.value]);
    });
    $all("[data-picker]", form).forEach(function (picker) {
      saved.pickers[picker.getAttribute("data-name")] = $all("[data-chips] .chip", picker).map(function (chip) {
        var kind = (chip.className.match(/chip-(\w+)/) || [])[1] || "user";
        return { token: chip.getAttribute("data-token"), label: chip.querySelector(".chip-label").textContent, kind: kind };
      });
    });
    try { sessionStorage.setItem(RESUME_KEY, JSON.stringify(saved)); } catch (e) { /* private mode: nothing kept */ }
  });

  function restoreForm(form, saved) {
    saved.fields.forEach(function (pair) {
      var el = form.elements.namedItem(pair[0]);
      if (el && el.tagName) el.value = pair[1];
    });
    Object.keys(saved.pickers).forEach(function (name) {
      var picker = $('[data-picker][data-name="' + name + '"]', form);
      if (!picker) return;
      var chips = parts(picker).chips;
      chips.innerHTML = "";
      saved.pickers[name].forEach(function (c) {
        var values = { "data-token": c.token, "data-label": c.label, "data-kind": c.kind };
        chips.appendChild(makeChip(picker, { getAttribute: function (n) { return values[n]; } }));
      });
    });
  }

  function resume() {
    var raw = null;
    try { raw = sessionStorage.getItem(RESUME_KEY); } catch (e) { return; }
    if (!raw) return;
    var saved = JSON.parse(raw);
    if (saved.page !== here() || !saved.url || !window.htmx) return;
    sessionStorage.removeItem(RESUME_KEY);
    window.htmx.ajax("GET", saved.url, { target: modalBody, swap: "innerHTML" }).then(function () {
      var form = $("form", modalBody);
      if (!form) return;
      restoreForm(form, saved);
      toast("You were signed in again. The form is as you left it: check it and send it.");
    });
  }

  // --- the sticky top bar ---------------------------------------------------------------------
  // The browser scrolls a control that gets focus clear of the scroll padding: as tall as the
  // bar, so that tabbing back up the page never leaves the focus hidden under it (2.4.11).
  function padForTopbar() {
    var bar = $(".topbar");
    if (!bar) return;
    var sticky = window.getComputedStyle(bar).position === "sticky";
    document.documentElement.style.scrollPaddingTop = sticky ? bar.offsetHeight + 8 + "px" : "";
  }

  // --- start ----------------------------------------------------------------------------------
  function start() {
    padForTopbar();
    window.addEventListener("resize", padForTopbar);
    if (window.ResizeObserver && $(".topbar")) new ResizeObserver(padForTopbar).observe($(".topbar"));
    modal = $("#modal");
    modalBody = $("#modal-body");
    if (!modal) return;
    modal.addEventListener("close", onModalClosed);
    modal.addEventListener("cancel", function (evt) {
      // Escape closes an open list of matches first, the dialog only after.
      if (openPickerIn(modal)) {
        evt.preventDefault();
        $all("[data-picker]", modal).forEach(function (p) { setOpen(p, false); });
      }
    });
    modal.addEventListener("mousedown", function (evt) {
      if (evt.target === modal) closeModal(); // a click on the backdrop
    });
    // After htmx has started (it starts on DOMContentLoaded, after this deferred script).
    if (document.readyState === "complete") resume();
    else window.addEventListener("load", resume);
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
