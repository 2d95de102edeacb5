// The operations page's only script: the live indicator, and the API token on htmx requests
// (kept for the tab's session, never sent anywhere but this API).
document.addEventListener('DOMContentLoaded', function () {
  var live = document.getElementById('live');
  var token = document.getElementById('token');
  token.value = sessionStorage.getItem('opsApiToken') || '';
  token.addEventListener('change', function () {
    sessionStorage.setItem('opsApiToken', token.value);
  });
  function setLive(state, text) {
    live.dataset.live = state;
    live.textContent = text;
  }
  document.body.addEventListener('htmx:sseOpen', function () {
    setLive('open', 'live');
  });
  document.body.addEventListener('htmx:sseError', function () {
    setLive('error', 'reconnecting…');
  });
  document.body.addEventListener('htmx:configRequest', function (event) {
    if (token.value) event.detail.headers['Authorization'] = 'Bearer ' + token.value;
  });
});
