import { Html, html } from './html';

test('interpolated text is escaped, Html and arrays of Html are not', () => {
  const id = `<img src=x onerror="alert('x')">&`;
  const out = html`<td title="${id}">${id}</td>
    ${[html`<b>${1}</b>`, html`<i>${null}</i>`]}`;
  expect(out).toBeInstanceOf(Html);
  // Prettier formats html`` templates as HTML: compare without the whitespace between tags.
  expect(out.value.replace(/>\s+</g, '><')).toBe(
    '<td title="&lt;img src=x onerror=&quot;alert(&#39;x&#39;)&quot;&gt;&amp;">' +
      '&lt;img src=x onerror=&quot;alert(&#39;x&#39;)&quot;&gt;&amp;</td><b>1</b><i></i>',
  );
});
