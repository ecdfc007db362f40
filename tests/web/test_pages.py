"""The HTML pages over ASGI: rendered, escaped, served with their assets, friendly 404."""

from __future__ import annotations

from knowledge.models import Site


async def test_chat_page_shows_the_site_and_loads_local_assets(client):
    page = await client.get("/c/xcmg-hv-3")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    html = page.text
    assert "徐工重型 三号车间" in html and 'lang="zh-CN"' in html
    assert "script-src 'self'" in page.headers["content-security-policy"]
    assert "http://" not in html and "https://" not in html  # nothing from outside the app
    for asset in ("/static/app.css?v=", "/static/common.js?v=", "/static/chat.js?v="):
        assert asset in html
        path = html.split(asset)[0].rsplit('"', 1)[1] + asset.split("?")[0]
        assert (await client.get(path)).status_code == 200


async def test_unknown_site_gets_a_friendly_chinese_404(client):
    page = await client.get("/c/no-such-site")
    assert page.status_code == 404 and page.headers["content-type"].startswith("text/html")
    assert "没有找到这个二维码对应的车间" in page.text and "no-such-site" in page.text
    hostile = await client.get("/c/%3Cscript%3Ealert(1)%3C%2Fscript%3E")
    assert hostile.status_code == 404
    assert "<script>alert(1)" not in hostile.text and "&lt;script&gt;alert(1)" in hostile.text


async def test_site_names_are_escaped(client, context):
    async with context.sessions() as session:
        session.add(Site(code="evil", name='<img src=x onerror="alert(1)">车间', org="<b>org</b>"))
        await session.commit()
    html = (await client.get("/c/evil")).text
    assert "<img src=x" not in html and "&lt;img src=x onerror=&#34;alert(1)&#34;&gt;车间" in html
    assert "<b>org</b>" not in html


async def test_console_pages_and_home_render(client):
    for path, marker in (("/expert", "师傅工作台"), ("/admin", "管理后台"), ("/", "劳模工匠在线答疑")):
        page = await client.get(path)
        assert page.status_code == 200 and marker in page.text
    assert "page-data" in (await client.get("/admin")).text


async def test_the_question_box_example_comes_from_the_sites_industry(client, context):
    from bot.web.texts import EXAMPLE_QUESTION

    coal = (await client.get("/c/xk-qishan-belt")).text  # a coal mine: an example of its own cases
    assert 'placeholder="例如：移架推溜特别慢' in coal and "SV0401" not in coal
    food = (await client.get("/c/px-food-ster")).text
    assert 'placeholder="例如：罐头放了几天' in food
    async with context.sessions() as session:
        session.add(Site(code="no-cases", name="新车间", industry="没有案例的行业"))
        await session.commit()
    assert f'placeholder="例如：{EXAMPLE_QUESTION}"' in (await client.get("/c/no-cases")).text
