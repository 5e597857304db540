"""The copy-paste loader snippet shown on a source's install page and in docs/tracking.md."""

import json

# A stub `window.siyu` that queues calls until /sdk/siyu.js has loaded and replays them.
_SNIPPET = """<script>
!function(){var s=window.siyu=window.siyu||[];if(s.initialized||s.invoked)return;s.invoked=!0;
s.methods=["load","page","track","identify","alias","reset","ready","flush"];
s.factory=function(m){return function(){var a=[].slice.call(arguments);a.unshift(m);s.push(a);return s}};
for(var i=0;i<s.methods.length;i++){var m=s.methods[i];s[m]=s.factory(m)}
var t=document.createElement("script");t.async=!0;t.src=__SCRIPT__;
var f=document.getElementsByTagName("script")[0];f.parentNode.insertBefore(t,f);
s.load(__KEY__,{host:__HOST__});s.page()}();
</script>"""


def _js(text: str) -> str:
    return json.dumps(text).replace("<", "\\u003c")


def loader_snippet(*, write_key: str, host: str) -> str:
    """The snippet for one source; `host` is Siyu's origin as the site's visitors reach it."""
    host = host.rstrip("/")
    return (
        _SNIPPET.replace("__SCRIPT__", _js(f"{host}/sdk/siyu.js"))
        .replace("__KEY__", _js(write_key))
        .replace("__HOST__", _js(host))
    )
